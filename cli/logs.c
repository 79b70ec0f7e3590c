/* logs.c - `trail logs RUN`: the run's kept stdout and stderr, its last lines, or followed live.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "commands.h"
#include "console.h"
#include "json_safe.h"
#include "trail.h"

#define FOLLOW_POLL_MS 300

typedef struct logs_opts {
    const char *store, *tail_arg, *run;
    int out, err, follow, raw;
    long tail; /* -1: everything */
} logs_opts;

static const tr_opt logs_opts_table[] = {
    TR_FLAG("stdout", logs_opts, out, "only what CMD wrote to stdout"),
    TR_FLAG("stderr", logs_opts, err, "only what CMD wrote to stderr"),
    TR_VALUE("tail", "N", logs_opts, tail_arg, "only the last N lines"),
    TR_FLAG("follow", logs_opts, follow, "keep printing what arrives until the run ends"),
    TR_FLAG("raw", logs_opts, raw, "the bytes as written (escape sequences included)"),
    TR_VALUE("store", "PATH", logs_opts, store,
             "the store (default: $TRAIL_STORE, ./.trail/trail.db)"),
    TR_OPT_END};

const tr_opt_cmd tr_logs_cmd = {
    .name = "trail logs",
    .args = "RUN",
    .summary = "What a run's command wrote to stdout and stderr",
    .opts = logs_opts_table,
    .min_args = 1,
    .max_args = 1,
    .missing = "which run? (an id, id prefix or name)",
    .args_help = "RUN is a full id, a unique id prefix, or a run name (the latest of that name).\n"
                 "Both streams are printed in the order they were written. Control characters\n"
                 "other than newline and tab (terminal escape sequences, a lone carriage return)\n"
                 "and bytes that are not UTF-8 are shown escaped (\\x1b, \\r, \\xff), so a\n"
                 "program's output cannot drive your terminal; --raw prints the bytes as written\n"
                 "(for `less -R`, or a file). Beyond the cap (TRAIL_CONSOLE_CAP, 16 MiB a stream)\n"
                 "the head and tail are kept and a line [trail: N bytes of STREAM cut] marks the\n"
                 "gap.\n"};

static int raw_out; /* --raw */

/* Writes n bytes of console output as text: newline, tab and valid UTF-8 (but C1 controls) as
 * they are, a CR before a newline dropped, other controls and stray bytes as \xHH / \r /
 * \u00HH (one escaper's rule: cli/textout.c). A UTF-8 sequence cut by a chunk boundary waits
 * in carry for the next chunk; end != 0 flushes it. */
static void write_text(const unsigned char *d, size_t n, int end)
{
    static unsigned char carry[4];
    static size_t ncarry;
    if (raw_out) {
        if (n) fwrite(d, 1, n, stdout);
        return;
    }
    unsigned char tmp[8];
    size_t i = 0;
    while (ncarry && i < n) { /* complete the sequence held back */
        carry[ncarry++] = d[i++];
        size_t need = carry[0] >= 0xf0 ? 4 : carry[0] >= 0xe0 ? 3 : 2;
        if (ncarry < need && i < n) continue;
        if (ncarry < need) return;
        memcpy(tmp, carry, ncarry);
        size_t l = ncarry;
        ncarry = 0;
        write_text(tmp, l, 0);
    }
    for (; i < n;) {
        size_t l = tr_utf8_seq(d + i, n - i);
        unsigned char c = d[i];
        if (!l && c >= 0xc2 && c <= 0xf4 && !end) { /* maybe cut by the chunk: does it fit? */
            size_t need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2, have = n - i, ok = have < need;
            for (size_t j = 1; ok && j < have; j++)
                ok = (d[i + j] & 0xc0) == 0x80;
            if (ok) {
                memcpy(carry, d + i, have);
                ncarry = have;
                return;
            }
        }
        if (l == 1 && (c == '\n' || c == '\t' || c >= 0x20) && c != 0x7f) {
            putchar(c);
        } else if (l == 1 && c == '\r' && i + 1 < n && d[i + 1] == '\n') {
            /* CRLF: the line end alone */
        } else if (l == 1 && c == '\r') {
            fputs("\\r", stdout);
        } else if (l == 2 && c == 0xc2 && d[i + 1] < 0xa0) {
            printf("\\u%04x", (unsigned)d[i + 1]);
        } else if (l > 1) {
            fwrite(d + i, 1, l, stdout);
        } else {
            printf("\\x%02x", c);
            l = 1;
        }
        i += l;
    }
    if (end && ncarry) {
        for (size_t j = 0; j < ncarry; j++)
            printf("\\x%02x", carry[j]);
        ncarry = 0;
    }
}

/* What has been read: the bytes (for --tail), or straight out. */
typedef struct sink {
    char *buf;
    size_t len, cap;
    int keep; /* collect for --tail instead of printing */
    int oom;
    int chunks; /* how many were read */
} sink;

static void put(sink *k, const void *d, size_t n)
{
    if (!k->keep) {
        write_text(d, n, 0);
        return;
    }
    if (k->len + n + 1 > k->cap) {
        size_t cap = (k->len + n + 1) * 2;
        char *g = realloc(k->buf, cap);
        if (!g) {
            k->oom = 1;
            return;
        }
        k->buf = g;
        k->cap = cap;
    }
    memcpy(k->buf + k->len, d, n);
    k->len += n;
}

static int on_chunk(void *arg, const char *stream, int64_t offset, int64_t cut, const void *data,
                    size_t n)
{
    (void)offset;
    sink *k = arg;
    k->chunks++;
    if (cut > 0) {
        char mark[96];
        int l = snprintf(mark, sizeof mark, "\n[trail: %lld bytes of %s cut]\n", (long long)cut,
                         stream);
        put(k, mark, (size_t)l);
    }
    put(k, data, n);
    return k->oom;
}

/* The last n lines of the collected bytes. */
static void print_tail(const sink *k, long n)
{
    size_t end = k->len, start = end;
    if (start && k->buf[start - 1] == '\n') start--;
    long lines = 0;
    while (start > 0) {
        if (k->buf[start - 1] == '\n' && ++lines >= n) break;
        start--;
    }
    if (n == 0) start = end;
    write_text((const unsigned char *)k->buf + start, end - start, 1);
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

int tr_cmd_logs(int argc, char **argv)
{
    logs_opts o;
    tr_opt_args args;
    memset(&o, 0, sizeof o);
    o.tail = -1;
    int rc = tr_opt_parse(&tr_logs_cmd, argc, argv, &o, &args);
    if (!rc && o.tail_arg)
        rc = tr_opt_long(&tr_logs_cmd, "--tail", o.tail_arg, 0, 1L << 30, &o.tail);
    if (!rc && o.out && o.err)
        rc = tr_opt_error(&tr_logs_cmd, "--stdout and --stderr exclude each other");
    if (rc) return TR_OPT_EXIT(rc);
    o.run = args.argv[0];
    raw_out = o.raw;
    const char *stream = o.out ? "stdout" : o.err ? "stderr" : NULL;
    tr_store *st = tr_agent_open_store(o.store, TR_STORE_READONLY);
    if (!st) return TR_EXIT_USAGE;
    char id[33];
    int ex = 0;
    rc = tr_store_resolve_run(st, o.run, id);
    if (rc) {
        if (rc == TRAIL_EAMBIGUOUS)
            tr_agent_err("run '%s' is ambiguous: give more characters of the id", o.run);
        else if (rc == TRAIL_ENOTFOUND)
            tr_agent_err("no run '%s' in %s", o.run, tr_store_path(st));
        else
            tr_agent_err("%s", tr_store_errmsg(st));
        tr_store_close(st);
        return TR_EXIT_USAGE;
    }
    sink k = {.keep = o.tail >= 0};
    int64_t after = 0;
    rc = tr_store_console_read(st, id, stream, &after, on_chunk, &k);
    if (k.keep && !k.oom) print_tail(&k, o.tail);
    int seen = k.chunks;
    free(k.buf);
    k = (sink){0};
    fflush(stdout);
    /* --follow: new chunks until the run is over (then what its last delivery brought) */
    for (int last = 0; !rc && o.follow && !last;) {
        char status[32];
        if ((rc = tr_store_run_status(st, id, status, sizeof status))) break;
        last = strcmp(status, "running") != 0;
        if (!last) sleep_ms(FOLLOW_POLL_MS);
        rc = tr_store_console_read(st, id, stream, &after, on_chunk, &k);
        fflush(stdout);
    }
    write_text(NULL, 0, 1); /* a sequence left cut at the very end */
    if (rc == 0 && !seen && !k.chunks)
        tr_agent_err("run %.8s kept no %s (--no-console, or nothing written)", id,
                     stream ? stream : "console output");
    if (rc < 0) {
        tr_agent_err("%s", tr_store_errmsg(st));
        ex = 1;
    } else if (k.oom) {
        tr_agent_err("out of memory");
        ex = 1;
    }
    tr_store_close(st);
    return ex;
}
