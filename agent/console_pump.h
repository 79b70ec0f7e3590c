/* console_pump.h - the launcher's console pump: CMD's stdout/stderr through a pseudo-terminal (when
 * trail's own is a terminal) or a pipe, shown unchanged, kept as CONSOLE records up to a cap,
 * and read for metrics (console_metrics.h). */
#ifndef TR_AGENT_CONSOLE_PUMP_H
#define TR_AGENT_CONSOLE_PUMP_H

#include <poll.h>
#include <stdint.h>
#include <sys/types.h>

#include "console_metrics.h"

#define TR_CONSOLE_DEFAULT_CAP (16LL << 20)
#define TR_CONSOLE_MAX_KEYS 256

typedef struct tr_console_key {
    char key[TR_CM_KEY_MAX];
    int64_t count;   /* points emitted: the step of a point whose line names none */
    int64_t last_ns; /* when the last point was emitted (in-place updates: one a second) */
} tr_console_key;

typedef struct tr_console_stream {
    int fd, child_fd, out_fd; /* our read end, CMD's end, where we show it (1 or 2) */
    int pty, shown;           /* a pseudo-terminal; still copied to out_fd */
    int64_t off;              /* bytes CMD wrote so far */
    char *ring;               /* past the head: the last `tail` bytes */
    int64_t ring_len, ring_at;
    char line[TR_CM_LINE_MAX + 1];
    size_t line_len;
    int line_long; /* the current line overflowed: it yields nothing */
} tr_console_stream;

typedef struct tr_console {
    int active;         /* CMD's stdout/stderr are ours to pump */
    int keep;           /* CONSOLE records (not --no-console) */
    int metrics;        /* parse metrics (not --no-console-metrics) */
    int64_t head, tail; /* of the cap: kept from the start, kept from the end */
    pid_t child;
    tr_console_stream s[2];
    tr_cm_rules rules;
    int has_ctx;
    int64_t ctx_step; /* the step a line naming only a step set (Keras's "Epoch 3/10") */
    int nkeys;
    tr_console_key keys[TR_CONSOLE_MAX_KEYS];
} tr_console;

/* Sets up before fork: keep and metrics as chosen, patterns from --metrics-regex (already
 * added to c->rules by the caller). Nothing to pump when neither is on. 0 or -1 (errno). */
int tr_console_open(tr_console *c, int keep, int metrics);
/* In the child, before exec: its stdout/stderr become the pump's ends. */
void tr_console_child(tr_console *c);
/* In the parent, after fork. */
void tr_console_started(tr_console *c, pid_t child);
/* The descriptors to poll (at most 2); returns how many were filled. */
int tr_console_pollfds(tr_console *c, struct pollfd *p);
/* Reads what is ready on them (p as filled by tr_console_pollfds), shows and keeps it. */
void tr_console_ready(tr_console *c, const struct pollfd *p, int n);
/* After CMD ended: what its descendants still write, until both ends close or a quiet spell;
 * then the kept tail, and everything closed. */
void tr_console_finish(tr_console *c);

#endif
