/* console_test.c - integration: real programs under the real `trail run` keep their console
 * (pipes and a pseudo-terminal), give metrics off it at the right steps, their traceback in
 * `trail logs` and `trail show`, system metrics, and the same through a real traild. */
#include <cjson/cJSON.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include <sys/resource.h>

#include "tassert.h"
#include "tnet.h"

#define TRAIL (char *)tproc_bin("trail")

static const char *sandbox;

static const char *path_in(const char *name)
{
    static char buf[8][600];
    static int k;
    char *p = buf[k++ % 8];
    snprintf(p, 600, "%s/%s", sandbox, name);
    return p;
}

static const char *script(const char *name, const char *text)
{
    const char *p = path_in(name);
    FILE *f = fopen(p, "w");
    if (!f) abort();
    fputs(text, f);
    fclose(f);
    return p;
}

/* `trail metrics RUN --json`, parsed (NULL on failure). */
static cJSON *metrics_of(const char *run, const char *store)
{
    char *out = NULL;
    int rc =
        store ? TPROC(&out, NULL, TRAIL, "metrics", "--json", "--store", (char *)store, (char *)run)
              : TPROC(&out, NULL, TRAIL, "metrics", "--json", (char *)run);
    cJSON *m = rc == 0 ? cJSON_Parse(out) : NULL;
    free(out);
    return m;
}

/* The series of key: its points' steps and values in order; returns how many. */
static int series(const cJSON *m, const char *key, long long *steps, double *values, int max)
{
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(m, key), *p;
    int n = 0;
    cJSON_ArrayForEach(p, s)
    {
        if (n < max) {
            steps[n] = (long long)cJSON_GetObjectItemCaseSensitive(p, "step")->valuedouble;
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(p, "value");
            values[n] = cJSON_IsNumber(v) ? v->valuedouble : -1;
        }
        n++;
    }
    return n;
}

static const char *source_of(const cJSON *m, const char *key)
{
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(m, key);
    const cJSON *p = cJSON_GetArrayItem(s, 0);
    return p ? cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(p, "source")) : NULL;
}

/* An unmodified loop printing one `epoch N loss X` line per epoch: one point per epoch at the
 * epoch's step, source console; what it printed reaches trail's stdout unchanged. */
static void test_epoch_loop(void)
{
    const char *py = script("epochs.py", "import sys\n"
                                         "for epoch in range(1, 6):\n"
                                         "    loss = 1.0 / epoch\n"
                                         "    print(f'epoch {epoch} loss {loss:.4f}')\n"
                                         "print('done', file=sys.stderr)\n");
    char *out = NULL, *err = NULL;
    T_EQ_INT(TPROC(&out, &err, TRAIL, "run", "--name", "epochs", "python3", (char *)py), 0);
    T_EQ_STR(out, "epoch 1 loss 1.0000\nepoch 2 loss 0.5000\nepoch 3 loss 0.3333\n"
                  "epoch 4 loss 0.2500\nepoch 5 loss 0.2000\n");
    T_CHECK(err && strstr(err, "done\n"));
    cJSON *m = metrics_of("epochs", NULL);
    T_ASSERT(m);
    long long steps[16];
    double v[16];
    T_EQ_INT(series(m, "loss", steps, v, 16), 5);
    for (int i = 0; i < 5; i++) {
        T_EQ_INT(steps[i], i + 1);
        T_CHECK(v[i] > 1.0 / (i + 1) - 1e-4 && v[i] < 1.0 / (i + 1) + 1e-4);
    }
    T_EQ_STR(source_of(m, "loss"), "console");
    T_CHECK(!cJSON_GetObjectItemCaseSensitive(m, "epoch")); /* the step, not a metric */
    cJSON_Delete(m);
    /* the kept console, both streams and each alone */
    char *logs = NULL;
    T_EQ_INT(TPROC(&logs, NULL, TRAIL, "logs", "--stdout", "epochs"), 0);
    T_EQ_STR(logs, out);
    free(logs);
    T_EQ_INT(TPROC(&logs, NULL, TRAIL, "logs", "--stderr", "epochs"), 0);
    T_EQ_STR(logs, "done\n");
    free(logs);
    T_EQ_INT(TPROC(&logs, NULL, TRAIL, "logs", "--tail", "2", "--stdout", "epochs"), 0);
    T_EQ_STR(logs, "epoch 4 loss 0.2500\nepoch 5 loss 0.2000\n");
    free(logs);
    free(out);
    free(err);
}

/* A loop whose data loading runs in worker processes (forked, as a DataLoader's workers):
 * their output and the main process's share the console; one loss point per epoch. */
static void test_workers(void)
{
    const char *py = script("workers.py",
                            "import multiprocessing as mp\n"
                            "def load(i):\n"
                            "    print(f'worker loaded batch {i}', flush=True)\n"
                            "    return i * 0.5\n"
                            "if __name__ == '__main__':\n"
                            "    ctx = mp.get_context('fork')\n"
                            "    with ctx.Pool(2) as pool:\n"
                            "        for epoch in range(3):\n"
                            "            total = sum(pool.map(load, range(4)))\n"
                            "            print(f'Epoch {epoch}: loss {1.0 / (total + epoch):.4f}', "
                            "flush=True)\n");
    char *out = NULL;
    T_EQ_INT(TPROC(&out, NULL, TRAIL, "run", "--name", "workers", "python3", (char *)py), 0);
    int lines = 0;
    for (char *p = out; p && (p = strstr(p, "worker loaded batch")); p++)
        lines++;
    T_EQ_INT(lines, 12);
    free(out);
    cJSON *m = metrics_of("workers", NULL);
    T_ASSERT(m);
    long long steps[8];
    double v[8];
    T_EQ_INT(series(m, "loss", steps, v, 8), 3);
    for (int i = 0; i < 3; i++)
        T_EQ_INT(steps[i], i);
    T_CHECK(!cJSON_GetObjectItemCaseSensitive(m, "batch"));
    cJSON_Delete(m);
}

typedef struct form {
    const char *name, *code, *key;
    double last;
    int min_points, max_points;
} form;

/* One script per console form; each key's last value, and how many points (tqdm and Keras
 * '\r' updates: at most one a second, so far fewer than the 30 updates printed). */
static void test_forms(void)
{
    static const form forms[] = {
        {"kv", "for i in range(3): print(f'step={i*10} loss={0.5-i*0.1:.2f} acc=0.{i+5}')\n", "acc",
         0.7, 3, 3},
        {"colon", "for i in range(3): print(f'iter: {i} | train_loss: {2-i}.5 | lr: 0.01')\n",
         "train_loss", 0.5, 3, 3},
        {"json",
         "import json\nfor i in range(4): print(json.dumps({'step': i, 'loss': 1/(i+1), "
         "'tag': 'x'}))\n",
         "loss", 0.25, 4, 4},
        {"hf",
         "for i in range(1, 4): print({'loss': round(1/i, 3), 'learning_rate': 5e-05, "
         "'epoch': round(i/3, 2)})\n",
         "loss", 0.333, 3, 3},
        {"keras",
         "import sys\nprint('Epoch 1/2')\n"
         "for b in range(1, 31): sys.stdout.write(f'\\r{b}/30 [===] - ETA: 0s - loss: "
         "{1/b:.4f} - accuracy: 0.{b:02d}'); sys.stdout.flush()\n"
         "print('\\r30/30 [===] - 1s 2ms/step - loss: 0.0300 - accuracy: 0.9900')\n",
         "loss", 0.03, 2, 10},
        {"tqdm",
         "import sys\nfor b in range(30): sys.stderr.write(f'\\rEpoch 1:  {b*3}%|###  | "
         "{b}/30 [00:01<00:02, 9.1it/s, loss={2/(b+1):.3f}]'); sys.stderr.flush()\n"
         "sys.stderr.write('\\rEpoch 1: 100%|#####| 30/30 [00:03<00:00, 9.1it/s, "
         "loss=0.066]\\n')\n",
         "loss", 0.066, 2, 10},
    };
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        const form *f = &forms[i];
        char file[64];
        snprintf(file, sizeof file, "form_%s.py", f->name);
        const char *py = script(file, f->code);
        T_EQ_INT(TPROC(NULL, NULL, TRAIL, "run", "--name", (char *)f->name, "python3", (char *)py),
                 0);
        cJSON *m = metrics_of(f->name, NULL);
        T_ASSERT(m);
        long long steps[64];
        double v[64];
        int n = series(m, f->key, steps, v, 64);
        if (n < f->min_points || n > f->max_points || n > 64 || n == 0 ||
            v[n - 1] < f->last - 1e-6 || v[n - 1] > f->last + 1e-6) {
            char *s = cJSON_PrintUnformatted(m);
            T_FAIL("form %s: %d point(s) of %s, last %g: %s", f->name, n, f->key,
                   n > 0 && n <= 64 ? v[n - 1] : -1.0, s);
            free(s);
        }
        cJSON_Delete(m);
    }
    /* steps from the line's step field (kv: step=0,10,20) */
    cJSON *m = metrics_of("kv", NULL);
    long long steps[8];
    double v[8];
    T_EQ_INT(series(m, "loss", steps, v, 8), 3);
    T_EQ_INT(steps[2], 20);
    cJSON_Delete(m);
}

/* A script that raises: the traceback is in `trail logs --stderr` and in `trail show`. */
static void test_traceback(void)
{
    const char *py = script("fail.py", "def train():\n"
                                       "    raise RuntimeError('CUDA out of memory (simulated)')\n"
                                       "print('epoch 1 loss 0.9', flush=True)\n"
                                       "train()\n");
    T_EQ_INT(TPROC(NULL, NULL, TRAIL, "run", "--name", "fails", "python3", (char *)py), 1);
    char *logs = NULL, *show = NULL, *json = NULL;
    T_EQ_INT(TPROC(&logs, NULL, TRAIL, "logs", "--stderr", "fails"), 0);
    T_CHECK(logs && strstr(logs, "Traceback (most recent call last):") &&
            strstr(logs, "RuntimeError: CUDA out of memory (simulated)"));
    T_EQ_INT(TPROC(&show, NULL, TRAIL, "show", "fails"), 0);
    T_CHECK(show && strstr(show, "stderr (last lines") &&
            strstr(show, "  RuntimeError: CUDA out of memory (simulated)") &&
            strstr(show, "in train"));
    T_EQ_INT(TPROC(&json, NULL, TRAIL, "show", "--json", "fails"), 0);
    cJSON *r = cJSON_Parse(json);
    const char *tail = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "stderr_tail"));
    T_CHECK(tail && strstr(tail, "Traceback") && strstr(tail, "RuntimeError"));
    cJSON_Delete(r);
    /* a run that succeeded carries no tail */
    free(json);
    json = NULL;
    T_EQ_INT(TPROC(&json, NULL, TRAIL, "show", "--json", "epochs"), 0);
    T_CHECK(json && !strstr(json, "stderr_tail"));
    free(logs);
    free(show);
    free(json);
}

/* trail's stdout and stderr a terminal (a pty the test opens): CMD sees terminals, its output
 * (colours, no newline translation by trail) arrives as written, and is kept as written. */
static void test_pty(void)
{
    int m = posix_openpt(O_RDWR | O_NOCTTY);
    if (m < 0 || grantpt(m) || unlockpt(m)) T_SKIP("no pseudo-terminals here");
    int s = open(ptsname(m), O_RDWR | O_NOCTTY);
    T_ASSERT(s >= 0);
    const char *py = script("tty.py", "import os, sys\n"
                                      "print('tty', os.isatty(1), os.isatty(2))\n"
                                      "print('\\x1b[31mred\\x1b[0m loss=0.5')\n"
                                      "sys.stderr.write('to stderr\\n')\n");
    pid_t pid = fork();
    if (pid == 0) {
        dup2(s, 1);
        dup2(s, 2);
        close(s);
        close(m);
        execlp(TRAIL, TRAIL, "run", "--name", "tty", "python3", py, (char *)NULL);
        _exit(127);
    }
    close(s);
    tproc_buf b = {0};
    tproc_append(&b, "", 0);
    for (;;) {
        struct pollfd p = {m, POLLIN, 0};
        if (poll(&p, 1, 60000) <= 0) break;
        char buf[4096];
        ssize_t r = read(m, buf, sizeof buf);
        if (r <= 0) break; /* EIO: every slave closed */
        tproc_append(&b, buf, (size_t)r);
    }
    T_EQ_INT(tnet_wait(pid), 0);
    close(m);
    /* the test's own pty translates \n to \r\n, as a terminal shows it without trail */
    T_CHECK(strstr(b.data, "tty True True\r\n") != NULL);
    T_CHECK(strstr(b.data, "\x1b[31mred\x1b[0m loss=0.5\r\n") != NULL);
    T_CHECK(strstr(b.data, "to stderr\r\n") != NULL);
    char *logs = NULL;
    T_EQ_INT(TPROC(&logs, NULL, TRAIL, "logs", "--stdout", "tty"), 0);
    T_EQ_STR(logs, "tty True True\n\\x1b[31mred\\x1b[0m loss=0.5\n"); /* shown, not obeyed */
    free(logs);
    T_EQ_INT(TPROC(&logs, NULL, TRAIL, "logs", "--raw", "--stdout", "tty"), 0);
    T_EQ_STR(logs, "tty True True\n\x1b[31mred\x1b[0m loss=0.5\n");
    free(logs);
    free(b.data);
}

/* What a program wrote cannot drive the reader's terminal: escape sequences, a lone CR, C1
 * controls and stray bytes come out escaped; UTF-8, tabs and CRLF line ends as they are; --raw
 * gives the bytes back exactly. */
static void test_hostile_console(void)
{
    static const char bytes[] = "\x1b]0;owned\x07title\tok\r\nbar\rover\n\xc3\xa9t\xc3\xa9 \xff"
                                "\xc2\x9b"
                                "2J\n";
    char path[600];
    snprintf(path, sizeof path, "%s/hostile.bin", sandbox);
    FILE *f = fopen(path, "wb");
    T_ASSERT(f);
    fwrite(bytes, 1, sizeof bytes - 1, f);
    fclose(f);
    T_EQ_INT(TPROC(NULL, NULL, TRAIL, "run", "--name", "hostile", "cat", path), 0);
    char *logs = NULL;
    T_EQ_INT(TPROC(&logs, NULL, TRAIL, "logs", "hostile"), 0);
    T_EQ_STR(logs, "\\x1b]0;owned\\x07title\tok\nbar\\rover\n\xc3\xa9t\xc3\xa9 \\xff\\u009b"
                   "2J\n");
    free(logs);
    T_EQ_INT(TPROC(&logs, NULL, TRAIL, "logs", "--tail", "1", "hostile"), 0);
    T_EQ_STR(logs, "\xc3\xa9t\xc3\xa9 \\xff\\u009b"
                   "2J\n");
    free(logs);
    T_EQ_INT(TPROC(&logs, NULL, TRAIL, "logs", "--raw", "hostile"), 0);
    T_EQ_STR(logs, bytes);
    free(logs);
}

/* trail in the foreground of a terminal (a pty the test makes its controlling terminal):
 * CMD sees the terminal's size on its pty, and a new size after the terminal is resized. */
static void test_winch(void)
{
    int m = posix_openpt(O_RDWR | O_NOCTTY);
    if (m < 0 || grantpt(m) || unlockpt(m)) T_SKIP("no pseudo-terminals here");
    struct winsize ws = {.ws_row = 40, .ws_col = 120};
    ioctl(m, TIOCSWINSZ, &ws);
    const char *py = script("winch.py", "import os, signal, sys, time\n"
                                        "def winch(s, f):\n"
                                        "    size = os.get_terminal_size(1)\n"
                                        "    if size == (100, 33):\n"
                                        "        print('resized', size.columns, size.lines)\n"
                                        "        sys.exit(0)\n"
                                        "signal.signal(signal.SIGWINCH, winch)\n"
                                        "s = os.get_terminal_size(1)\n"
                                        "print('size', s.columns, s.lines, flush=True)\n"
                                        "for _ in range(600): time.sleep(0.1)\n"
                                        "print('no resize seen')\n");
    const char *slave = ptsname(m);
    pid_t pid = fork();
    if (pid == 0) {
        setsid();
        int s = open(slave, O_RDWR); /* the session's controlling terminal */
        dup2(s, 0);
        dup2(s, 1);
        dup2(s, 2);
        if (s > 2) close(s);
        close(m);
        execlp(TRAIL, TRAIL, "run", "--name", "winch", "python3", py, (char *)NULL);
        _exit(127);
    }
    tproc_buf b = {0};
    tproc_append(&b, "", 0);
    int resized = 0;
    for (;;) {
        struct pollfd p = {m, POLLIN, 0};
        if (poll(&p, 1, 60000) <= 0) break;
        char buf[4096];
        ssize_t r = read(m, buf, sizeof buf);
        if (r <= 0) break;
        tproc_append(&b, buf, (size_t)r);
        /* the whole line first: python may write print()'s pieces one by one (unbuffered), and
         * a handler that exits between them would cut the line short */
        if (!resized && (strstr(b.data, "size 120 40\r\n") || strstr(b.data, "size 120 40\n"))) {
            ws = (struct winsize){.ws_row = 33, .ws_col = 100};
            ioctl(m, TIOCSWINSZ, &ws); /* SIGWINCH to the terminal's foreground: trail, CMD */
            resized = 1;
        }
    }
    T_EQ_INT(tnet_wait(pid), 0);
    close(m);
    /* the terminal's line ends (ONLCR); a line the program wrote whole */
    int sized = strstr(b.data, "size 120 40\r\n") || strstr(b.data, "size 120 40\n");
    int again = strstr(b.data, "resized 100 33\r\n") || strstr(b.data, "resized 100 33\n");
    if (!sized || !again) {
        char shown[1024];
        size_t k = 0;
        for (size_t i = 0; i < b.len && k + 5 < sizeof shown; i++) {
            unsigned char ch = (unsigned char)b.data[i];
            k += (size_t)(ch >= 32 && ch < 127
                              ? snprintf(shown + k, sizeof shown - k, "%c", ch)
                              : snprintf(shown + k, sizeof shown - k, "\\x%02x", ch));
        }
        T_FAIL("output: %s", shown);
    }
    free(b.data);
}

/* --no-console keeps nothing (metrics still read), --no-console-metrics reads none,
 * --metrics-regex adds a pattern, and a console past TRAIL_CONSOLE_CAP keeps head and tail. */
static void test_options(void)
{
    const char *py = script("opts.py", "print('loss=0.5 acc=0.25')\nprint('reward was 3.5')\n");
    T_EQ_INT(
        TPROC(NULL, NULL, TRAIL, "run", "--name", "nocon", "--no-console", "python3", (char *)py),
        0);
    char *logs = NULL;
    T_EQ_INT(TPROC(&logs, NULL, TRAIL, "logs", "nocon"), 0);
    T_EQ_STR(logs, "");
    free(logs);
    cJSON *m = metrics_of("nocon", NULL);
    T_CHECK(cJSON_GetObjectItemCaseSensitive(m, "loss") != NULL);
    cJSON_Delete(m);
    T_EQ_INT(TPROC(NULL, NULL, TRAIL, "run", "--name", "nomet", "--no-console-metrics",
                   "--metrics-regex", "reward was (?<reward>[0-9.]+)", "python3", (char *)py),
             0);
    m = metrics_of("nomet", NULL); /* none: and a run shorter than 10 s has no system samples */
    T_EQ_INT(cJSON_GetArraySize(m), 0);
    cJSON_Delete(m);
    T_EQ_INT(TPROC(NULL, NULL, TRAIL, "run", "--name", "regex", "--metrics-regex",
                   "reward was (?<reward>[0-9.]+)", "python3", (char *)py),
             0);
    m = metrics_of("regex", NULL);
    long long st[4];
    double v[4];
    T_EQ_INT(series(m, "reward", st, v, 4), 1);
    T_CHECK(v[0] == 3.5);
    cJSON_Delete(m);
    char *err = NULL;
    T_EQ_INT(TPROC(NULL, &err, TRAIL, "run", "--metrics-regex", "no groups", "true"), 2);
    T_CHECK(err && strstr(err, "named groups"));
    free(err);

    /* 2000 numbered lines of 10 bytes, a cap of 4 KiB: 2 KiB head, 2 KiB tail, a marker */
    const char *big = script("big.py", "for i in range(2000): print(f'line {i:04d}')\n");
    setenv("TRAIL_CONSOLE_CAP", "4K", 1);
    char *out = NULL;
    T_EQ_INT(TPROC(&out, NULL, TRAIL, "run", "--name", "big", "python3", (char *)big), 0);
    unsetenv("TRAIL_CONSOLE_CAP");
    T_EQ_INT(strlen(out), 20000); /* shown in full */
    T_EQ_INT(TPROC(&logs, NULL, TRAIL, "logs", "big"), 0);
    T_CHECK(logs && !strncmp(logs, "line 0000\n", 10));
    T_CHECK(logs && strstr(logs, "[trail: 15904 bytes of stdout cut]"));
    T_CHECK(logs && strlen(logs) > 10 && !strcmp(logs + strlen(logs) - 10, "line 1999\n"));
    T_CHECK(logs && strlen(logs) < 4096 + 100);
    free(logs);
    free(out);
}

/* A console point of a key the program also logs through the SDK is dropped, never doubled. */
static void test_sdk_wins(void)
{
    if (TPROC(NULL, NULL, TRAIL, "run", "--no-console", "python3", "-c",
              "import ctypes; ctypes.CDLL('libtrail.so.0')") != 0)
        T_SKIP("python3 cannot load this build's libtrail.so.0 (a sanitizer build)");
    const char *py =
        script("sdk.py", "import ctypes\n"
                         "lib = ctypes.CDLL('libtrail.so.0')\n"
                         "lib.trail_log_metric.argtypes = [ctypes.c_char_p, ctypes.c_double, "
                         "ctypes.c_int64]\n"
                         "for i in range(3):\n"
                         "    print(f'step={i} loss={1/(i+1):.3f} acc=0.{i+1}', flush=True)\n"
                         "    lib.trail_log_metric(b'loss', 1/(i+1), i)\n"
                         "lib.trail_flush()\n");
    T_EQ_INT(TPROC(NULL, NULL, TRAIL, "run", "--name", "sdk", "python3", (char *)py), 0);
    cJSON *m = metrics_of("sdk", NULL);
    T_ASSERT(m);
    long long st[8];
    double v[8];
    T_EQ_INT(series(m, "loss", st, v, 8), 3);
    T_EQ_STR(source_of(m, "loss"), "sdk");
    T_EQ_INT(series(m, "acc", st, v, 8), 3);
    T_EQ_STR(source_of(m, "acc"), "console");
    cJSON_Delete(m);
}

/* A 3 s job sampled every second: system/... metrics with >= 2 points, left out of `trail
 * runs` unless --system-metrics; --system-interval 0 samples nothing. */
static void test_system(void)
{
    const char *py = script("busy.py", "import time\nt = time.time()\n"
                                       "while time.time() - t < 3: pass\n");
    T_EQ_INT(TPROC(NULL, NULL, TRAIL, "run", "--name", "busy", "--system-interval", "1", "python3",
                   (char *)py),
             0);
    cJSON *m = metrics_of("busy", NULL);
    T_ASSERT(m);
    long long st[32];
    double v[32];
    int n = series(m, "system/cpu_percent", st, v, 32);
    T_CHECK(n >= 2);
    T_CHECK(n >= 2 && n <= 32 && v[n - 1] > 10); /* a busy loop uses a CPU */
    n = series(m, "system/rss_bytes", st, v, 32);
    T_CHECK(n >= 2 && n <= 32 && v[n - 1] > 1 << 20); /* python's own memory, sampled late */
    T_CHECK(series(m, "system/open_fds", st, v, 32) >= 2 && v[0] >= 3);
    T_CHECK(series(m, "system/read_bytes", st, v, 32) >= 2);
    T_CHECK(series(m, "system/write_bytes", st, v, 32) >= 2);
    T_EQ_STR(source_of(m, "system/rss_bytes"), "system");
    /* trail's own CPU while the command ran, beside the job's: each sample and a last point
     * at its end; a launcher that mostly sleeps uses far less than the busy job */
    n = series(m, "system/trail_cpu_seconds", st, v, 32); /* >= 1 sample (the niced launcher
                                                             may miss some on a loaded machine) */
    T_CHECK(n >= 2 && n <= 32 && v[n - 1] >= v[0] && v[n - 1] < 3.0);
    n = series(m, "system/trail_cpu_percent", st, v, 32);
    T_CHECK(n >= 2 && n <= 32 && v[n - 1] >= 0 && v[n - 1] < 50);
    cJSON_Delete(m);
    char *out = NULL;
    T_EQ_INT(TPROC(&out, NULL, TRAIL, "runs", "--limit", "1"), 0);
    T_CHECK(out && strstr(out, "busy") && !strstr(out, "system/"));
    free(out);
    T_EQ_INT(TPROC(&out, NULL, TRAIL, "runs", "--limit", "1", "--system-metrics"), 0);
    T_CHECK(out && strstr(out, "system/"));
    free(out);
    T_EQ_INT(TPROC(NULL, NULL, TRAIL, "run", "--name", "nosys", "--system-interval", "0", "python3",
                   "-c", "import time; time.sleep(1.5)"),
             0);
    m = metrics_of("nosys", NULL);
    T_EQ_INT(cJSON_GetArraySize(m), 0);
    cJSON_Delete(m);
    /* the launcher gives way while the command runs; the command keeps the caller's priority */
    char *nice = NULL;
    T_EQ_INT(TPROC(&nice, NULL, TRAIL, "run", "--name", "nice", "--", "sh", "-c",
                   "sleep 1; awk '{print $19}' /proc/$PPID/stat; awk '{print $19}' /proc/$$/stat"),
             0);
    int launcher = -100, cmd = -100;
    T_CHECK(nice && sscanf(nice, "%d %d", &launcher, &cmd) == 2);
    T_EQ_INT(cmd, getpriority(PRIO_PROCESS, 0));
    T_EQ_INT(launcher, cmd + 5);
    free(nice);
}

/* Through a real traild: the console and its metrics reach traild's store. */
static void test_traild(void)
{
    const char *db = path_in("traild.db"), *dlog = path_in("traild.log");
    char url[64];
    snprintf(url, sizeof url, "tcp://127.0.0.1:%d", tnet_free_port());
    pid_t d = TNET_TRAILD(dlog, "--listen", url, "--store", (char *)db);
    if (d <= 0) T_SKIP("traild did not start (see %s)", dlog);
    const char *py = script("remote.py", "import sys\n"
                                         "for e in range(1, 4): print(f'epoch {e} loss 0.{e}')\n"
                                         "raise SystemExit('remote failure')\n");
    T_EQ_INT(TPROC(NULL, NULL, TRAIL, "run", "--name", "remote", "--collector", url, "python3",
                   (char *)py),
             1);
    char *logs = NULL;
    T_EQ_INT(TPROC(&logs, NULL, TRAIL, "logs", "--store", (char *)db, "remote"), 0);
    T_CHECK(logs && strstr(logs, "epoch 3 loss 0.3\n") && strstr(logs, "remote failure\n"));
    free(logs);
    cJSON *m = metrics_of("remote", db);
    long long st[8];
    double v[8];
    T_EQ_INT(series(m, "loss", st, v, 8), 3);
    T_EQ_INT(st[2], 3);
    cJSON_Delete(m);
    kill(d, SIGTERM);
    tnet_wait(d);
}

/* --follow prints what arrives while the run goes on, and returns when it ends. */
static void test_follow(void)
{
    const char *py = script("slow.py", "import time\n"
                                       "for i in range(4):\n"
                                       "    print(f'tick {i}', flush=True); time.sleep(0.3)\n");
    pid_t run = TNET_SPAWN(NULL, TRAIL, "run", "--name", "slow", "python3", (char *)py);
    /* bounded wait until the run is stored, then follow it to its end */
    char *out = NULL;
    for (int i = 0; i < 500; i++) {
        free(out);
        out = NULL;
        if (TPROC(&out, NULL, TRAIL, "logs", "slow") == 0) break;
        tnet_sleep_ms(10);
    }
    free(out);
    out = NULL;
    T_EQ_INT(TPROC(&out, NULL, TRAIL, "logs", "--follow", "slow"), 0);
    T_EQ_STR(out, "tick 0\ntick 1\ntick 2\ntick 3\n");
    T_EQ_INT(tnet_wait(run), 0);
    free(out);
}

int main(void)
{
    if (TPROC(NULL, NULL, "python3", "-c", "pass") != 0) T_SKIP_TEST("python3 is not installed");
    sandbox = tproc_sandbox();
    T_RUN(test_epoch_loop);
    T_RUN(test_workers);
    T_RUN(test_forms);
    T_RUN(test_traceback);
    T_RUN(test_pty);
    T_RUN(test_hostile_console);
    T_RUN(test_winch);
    T_RUN(test_options);
    T_RUN(test_sdk_wins);
    T_RUN(test_system);
    T_RUN(test_traild);
    T_RUN(test_follow);
    return T_DONE();
}
