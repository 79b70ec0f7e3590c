/* console.c - the launcher's console pump: pty or pipes, shown unchanged, kept, read for metrics.
 */
#include "console_pump.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "record.h"
#include "util.h"

#define CHUNK 16384
#define QUIET_MS 200      /* after CMD ended: a spell this long without output ends the drain */
#define DRAIN_MAX_MS 2000 /* and the drain lasts at most this long */

static volatile sig_atomic_t winch;
static struct sigaction old_winch;
static int winch_set;

static void on_winch(int sig)
{
    (void)sig;
    winch = 1;
}

static const char *const names[2] = {"stdout", "stderr"};

/* TRAIL_CONSOLE_CAP: bytes, with an optional K, M or G suffix; the default when unset. */
static int64_t console_cap(void)
{
    const char *v = getenv("TRAIL_CONSOLE_CAP");
    if (!v || !*v) return TR_CONSOLE_DEFAULT_CAP;
    char *end;
    double n = strtod(v, &end);
    int64_t mul = 1;
    if (*end == 'k' || *end == 'K') mul = 1 << 10;
    if (*end == 'm' || *end == 'M') mul = 1 << 20;
    if (*end == 'g' || *end == 'G') mul = 1 << 30;
    if (mul > 1) end++;
    if (*end == 'i' || *end == 'I') end++;
    if (*end == 'b' || *end == 'B') end++;
    if (end == v || *end || n < 0 || n * (double)mul > 1e12) return TR_CONSOLE_DEFAULT_CAP;
    return (int64_t)(n * (double)mul);
}

/* fd moved above the standard descriptors (one of them may be closed and so be handed out),
 * close-on-exec; -1 when fd is. */
static int high_fd(int fd)
{
    if (fd < 0 || fd > 2) return fd;
    int h = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    close(fd);
    return h;
}

/* A pseudo-terminal for stream i shown on terminal out: the slave gets the terminal's modes
 * and size, output processing off (the bytes reach the real terminal, which does its own). */
static int open_pty(tr_console_stream *st, int out)
{
    int m = high_fd(posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC));
    if (m < 0) return -1;
    char *name;
    if (grantpt(m) || unlockpt(m) || !(name = ptsname(m))) {
        close(m);
        return -1;
    }
    int s = high_fd(open(name, O_RDWR | O_NOCTTY | O_CLOEXEC));
    if (s < 0) {
        close(m);
        return -1;
    }
    struct termios t;
    if (tcgetattr(out, &t) == 0) {
        t.c_oflag &= ~(tcflag_t)OPOST;
        tcsetattr(s, TCSANOW, &t);
    }
    struct winsize ws;
    if (ioctl(out, TIOCGWINSZ, &ws) == 0) ioctl(m, TIOCSWINSZ, &ws);
    st->fd = m;
    st->child_fd = s;
    st->pty = 1;
    return 0;
}

int tr_console_open(tr_console *c, int keep, int metrics)
{
    int64_t cap = console_cap();
    c->keep = keep && cap > 0;
    c->metrics = metrics;
    c->head = cap / 2;
    c->tail = cap - c->head;
    c->active = 0;
    for (int i = 0; i < 2; i++) {
        tr_console_stream *st = &c->s[i];
        st->fd = st->child_fd = -1;
        st->out_fd = i + 1;
    }
    if (!c->keep && !c->metrics) return 0;
    int any_pty = 0;
    for (int i = 0; i < 2; i++) {
        tr_console_stream *st = &c->s[i];
        /* a closed stdout stays closed for CMD (trail's own descriptors, close-on-exec, may
         * have taken its number since) */
        int fl = fcntl(st->out_fd, F_GETFD);
        if (!(st->shown = fl != -1 && !(fl & FD_CLOEXEC))) continue;
        if (isatty(st->out_fd) && open_pty(st, st->out_fd) == 0) {
            any_pty = 1;
            continue;
        }
        int p[2];
        if (pipe2(p, O_CLOEXEC) != 0) {
            for (int k = 0; k <= i; k++) {
                if (c->s[k].fd >= 0) close(c->s[k].fd);
                if (c->s[k].child_fd >= 0) close(c->s[k].child_fd);
                c->s[k].fd = c->s[k].child_fd = -1;
            }
            return -1;
        }
        st->fd = high_fd(p[0]);
        st->child_fd = high_fd(p[1]);
        if (st->fd < 0 || st->child_fd < 0) {
            if (st->fd >= 0) close(st->fd);
            if (st->child_fd >= 0) close(st->child_fd);
            st->fd = st->child_fd = -1;
            st->shown = 0; /* CMD writes to ours directly */
        }
    }
    if (any_pty) {
        struct sigaction sa = {0};
        sa.sa_handler = on_winch;
        sigemptyset(&sa.sa_mask);
        winch_set = sigaction(SIGWINCH, &sa, &old_winch) == 0;
    }
    c->active = 1;
    return 0;
}

void tr_console_child(tr_console *c)
{
    if (!c->active) return;
    for (int i = 0; i < 2; i++) {
        if (c->s[i].child_fd < 0) continue;
        dup2(c->s[i].child_fd, i + 1); /* dup2 clears close-on-exec on the copy */
        close(c->s[i].fd);
    }
    if (winch_set) sigaction(SIGWINCH, &old_winch, NULL);
}

void tr_console_started(tr_console *c, pid_t child)
{
    c->child = child;
    if (!c->active) return;
    for (int i = 0; i < 2; i++) {
        if (c->s[i].child_fd >= 0) close(c->s[i].child_fd);
        c->s[i].child_fd = -1;
    }
}

int tr_console_pollfds(tr_console *c, struct pollfd *p)
{
    int n = 0;
    if (!c->active) return 0;
    if (winch) {
        /* the terminal's new size onto each pty, then CMD told again (it may have asked its
         * pty before the size was there) */
        winch = 0;
        for (int i = 0; i < 2; i++) {
            struct winsize ws;
            if (c->s[i].pty && c->s[i].fd >= 0 && ioctl(c->s[i].out_fd, TIOCGWINSZ, &ws) == 0)
                ioctl(c->s[i].fd, TIOCSWINSZ, &ws);
        }
        if (c->child > 0) kill(c->child, SIGWINCH);
    }
    for (int i = 0; i < 2; i++)
        if (c->s[i].fd >= 0) p[n++] = (struct pollfd){c->s[i].fd, POLLIN, 0};
    return n;
}

static void emit_chunk(int i, const char *data, size_t n, int64_t off, int64_t cut)
{
    static uint8_t buf[CHUNK + 512];
    tr_enc e;
    tr_enc_init(&e, buf, sizeof buf, TR_REC_CONSOLE, tr_now_ns());
    tr_enc_str(&e, TR_F_STREAM, names[i]);
    tr_enc_strn(&e, TR_F_DATA, data, n);
    tr_enc_i64(&e, TR_F_OFFSET, off);
    if (cut > 0) tr_enc_i64(&e, TR_F_CUT, cut);
    long len = tr_enc_finish(&e);
    if (len > 0) tr_client_emit(buf, (size_t)len);
}

/* Keeps bytes: the head as records now, what lies past it in the tail ring. */
static void keep(tr_console *c, int i, const char *d, size_t n)
{
    tr_console_stream *st = &c->s[i];
    if (st->off < c->head) {
        size_t now = (size_t)(c->head - st->off) < n ? (size_t)(c->head - st->off) : n;
        emit_chunk(i, d, now, st->off, 0);
        st->off += (int64_t)now;
        d += now;
        n -= now;
    }
    if (!n) return;
    if (!st->ring && c->tail > 0 && !(st->ring = malloc((size_t)c->tail))) c->tail = 0;
    st->off += (int64_t)n;
    if (c->tail <= 0) return;
    if ((int64_t)n > c->tail) {
        d += n - (size_t)c->tail;
        n = (size_t)c->tail;
    }
    for (size_t k = 0; k < n;) {
        size_t room = (size_t)(c->tail - st->ring_at), part = n - k < room ? n - k : room;
        memcpy(st->ring + st->ring_at, d + k, part);
        st->ring_at = (st->ring_at + (int64_t)part) % c->tail;
        k += part;
    }
    st->ring_len = st->ring_len + (int64_t)n > c->tail ? c->tail : st->ring_len + (int64_t)n;
}

/* The tail ring as records: the first one says how many bytes were left out before it. */
static void flush_tail(tr_console *c, int i)
{
    tr_console_stream *st = &c->s[i];
    if (!st->ring || !st->ring_len) return;
    int64_t start = st->off - st->ring_len, cut = start - c->head;
    int64_t from = (st->ring_at - st->ring_len + c->tail) % c->tail;
    for (int64_t done = 0; done < st->ring_len;) {
        int64_t part = st->ring_len - done;
        if (part > CHUNK) part = CHUNK;
        if (part > c->tail - from) part = c->tail - from;
        emit_chunk(i, st->ring + from, (size_t)part, start + done, done == 0 ? cut : 0);
        done += part;
        from = (from + part) % c->tail;
    }
}

/* The key's bookkeeping entry (NULL when the table is full). */
static tr_console_key *key_of(tr_console *c, const char *k)
{
    for (int i = 0; i < c->nkeys; i++)
        if (!strcmp(c->keys[i].key, k)) return &c->keys[i];
    if (c->nkeys >= TR_CONSOLE_MAX_KEYS) return NULL;
    tr_console_key *e = &c->keys[c->nkeys++];
    snprintf(e->key, sizeof e->key, "%s", k);
    e->count = 0;
    e->last_ns = 0;
    return e;
}

/* One line (or, in_place, one carriage-return update of a progress bar) read for metrics. */
static void line_metrics(tr_console *c, const char *s, size_t n, int in_place)
{
    tr_cm_line l;
    int np = tr_cm_parse(s, n, &c->rules, &l);
    if (l.has_step && np == 0 && !in_place) {
        c->has_ctx = 1;
        c->ctx_step = l.step;
    }
    int64_t now = tr_now_ns();
    for (int k = 0; k < np; k++) {
        tr_console_key *e = key_of(c, l.p[k].key);
        if (!e || (in_place && e->last_ns && now - e->last_ns < 1000000000LL)) continue;
        int64_t step = l.has_step ? l.step : c->has_ctx ? c->ctx_step : e->count;
        uint8_t buf[512];
        tr_enc en;
        tr_enc_init(&en, buf, sizeof buf, TR_REC_METRIC, now);
        tr_enc_str(&en, TR_F_KEY, l.p[k].key);
        tr_enc_f64(&en, TR_F_NUM, l.p[k].value);
        tr_enc_i64(&en, TR_F_STEP, step);
        tr_enc_str(&en, TR_F_SOURCE, "console");
        long len = tr_enc_finish(&en);
        if (len > 0) tr_client_emit(buf, (size_t)len);
        e->count++;
        e->last_ns = now;
    }
}

/* Splits bytes into lines at \n, and into in-place updates at \r. */
static void scan(tr_console *c, tr_console_stream *st, const char *d, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char ch = d[i];
        if (ch == '\n' || ch == '\r') {
            if (!st->line_long && st->line_len) line_metrics(c, st->line, st->line_len, ch == '\r');
            st->line_len = 0;
            st->line_long = 0;
        } else if (st->line_len < TR_CM_LINE_MAX) {
            st->line[st->line_len++] = ch;
        } else {
            st->line_long = 1;
        }
    }
}

/* Writes all of d to fd; 0, or -1 when it cannot take more (closed: EPIPE). */
static int write_all(int fd, const char *d, size_t n)
{
    while (n) {
        ssize_t w = write(fd, d, n);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0 && errno == EAGAIN) {
            struct pollfd p = {fd, POLLOUT, 0};
            poll(&p, 1, 100);
            continue;
        }
        if (w <= 0) return -1;
        d += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Reads once from stream i; 0 when its end closed (EOF, or EIO: the pty's last slave closed). */
static int pump(tr_console *c, int i)
{
    tr_console_stream *st = &c->s[i];
    char buf[CHUNK];
    ssize_t r = read(st->fd, buf, sizeof buf);
    if (r < 0 && (errno == EINTR || errno == EAGAIN)) return 1;
    if (r <= 0) {
        close(st->fd);
        st->fd = -1;
        return 0;
    }
    if (st->shown && write_all(st->out_fd, buf, (size_t)r) != 0) {
        /* nobody reads what we show (a closed pipe): CMD learns it as it would without trail */
        st->shown = 0;
        close(st->fd);
        st->fd = -1;
    }
    if (c->keep) keep(c, i, buf, (size_t)r);
    if (c->metrics) scan(c, st, buf, (size_t)r);
    return 1;
}

void tr_console_ready(tr_console *c, const struct pollfd *p, int n)
{
    for (int k = 0; k < n; k++) {
        if (!(p[k].revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL))) continue;
        for (int i = 0; i < 2; i++)
            if (c->s[i].fd == p[k].fd && c->s[i].fd >= 0) pump(c, i);
    }
}

/* Processes CMD left behind still hold its end: a forwarder of ours (not kept, not waited
 * for) copies what they write until they close it, so they write on as without trail. */
static void forward_rest(tr_console *c)
{
    int open_fds = 0;
    for (int i = 0; i < 2; i++)
        open_fds += c->s[i].fd >= 0;
    if (!open_fds) return;
    pid_t pid = fork();
    if (pid != 0) return; /* the parent closes its copies; a failed fork closes them too */
    for (;;) {
        struct pollfd p[2];
        int n = 0;
        for (int i = 0; i < 2; i++)
            if (c->s[i].fd >= 0) p[n++] = (struct pollfd){c->s[i].fd, POLLIN, 0};
        if (n == 0) _exit(0);
        if (poll(p, (nfds_t)n, -1) < 0 && errno != EINTR) _exit(0);
        for (int k = 0; k < n; k++)
            for (int i = 0; i < 2; i++) {
                tr_console_stream *st = &c->s[i];
                if (st->fd != p[k].fd || !(p[k].revents & (POLLIN | POLLHUP | POLLERR))) continue;
                char buf[CHUNK];
                ssize_t r = read(st->fd, buf, sizeof buf);
                if (r < 0 && errno == EINTR) continue;
                if (r <= 0 || (st->shown && write_all(st->out_fd, buf, (size_t)r) != 0)) {
                    close(st->fd);
                    st->fd = -1;
                }
            }
    }
}

void tr_console_finish(tr_console *c)
{
    if (!c->active) return;
    int64_t end = tr_now_ns() + DRAIN_MAX_MS * 1000000LL;
    for (;;) {
        struct pollfd p[2];
        int n = tr_console_pollfds(c, p);
        if (n == 0 || tr_now_ns() > end) break;
        int r = poll(p, (nfds_t)n, QUIET_MS);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break; /* quiet: what is left belongs to processes that outlive CMD */
        tr_console_ready(c, p, n);
    }
    forward_rest(c);
    for (int i = 0; i < 2; i++) {
        tr_console_stream *st = &c->s[i];
        if (c->metrics && st->line_len && !st->line_long)
            line_metrics(c, st->line, st->line_len, 0);
        if (st->fd >= 0) close(st->fd);
        st->fd = -1;
        if (c->keep) flush_tail(c, i);
        free(st->ring);
        st->ring = NULL;
    }
    if (winch_set) sigaction(SIGWINCH, &old_winch, NULL);
    winch_set = 0;
    c->active = 0;
}
