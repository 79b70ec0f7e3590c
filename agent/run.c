/* run.c - `trail run`: creates the run, launches CMD, tails its spool live, records how it ended.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "argv_rec.h"
#include "client.h"
#include "console_pump.h"
#include "deliver.h"
#include "drops.h"
#include "launcher.h"
#include "opts.h"
#include "record.h"
#include "settle.h"
#include "spool.h"
#include "sysmetrics.h"
#include "trail.h"
#include "util.h"

extern char **environ;

#define MAX_KV 256
#define POLL_NS (50 * 1000000LL)
#define DELIVER_NS (250 * 1000000LL) /* while CMD runs: delivery at most this often, */
#define DELIVER_SLICE_NS                                                                           \
    (100 * 1000000LL)                     /* each time for up to this long while a backlog lasts   \
                                           */
#define MLFLOW_HOLD_NS (5 * 1000000000LL) /* --mlflow: the run stored before CMD, at most */

typedef struct run_opts {
    const char *store, *collector, *experiment, *name, *redact;
    const char *params[MAX_KV], *tags[MAX_KV];
    int nparams, ntags;
    double live_grace_s; /* how long to wait for surviving writers after CMD ends */
    double drain_s;      /* --drain-timeout: how long to keep delivering to the collector */
    tr_link_opts link;   /* --collector URL [--token-file F] [--tls-ca F] */
    int no_capture;      /* --no-capture: do not preload the shim */
    int mlflow;          /* --mlflow: CMD's MLflow client logs into this run */
    char **cmd;
    const char *drain_arg;              /* --drain-timeout as given */
    int no_console, no_console_metrics; /* console.c: keep CMD's output, read metrics off it */
    const char *metrics_re[TR_CM_MAX_RULES];
    int nmetrics_re;
    const char *system_arg; /* --system-interval as given */
    double system_s;        /* sysmetrics.c: seconds between samples, 0 off */
} run_opts;

static volatile pid_t child_pid;
static tr_console con; /* console.c: CMD's stdout and stderr; its --metrics-regex patterns */
static volatile sig_atomic_t got_signal;

static const tr_opt run_opts_table[] = {
    TR_VALUE("store", "PATH", run_opts, store,
             "the store (default: $TRAIL_STORE, ./.trail/trail.db)"),
    TR_LINK_OPTS(run_opts, link),
    TR_VALUE("drain-timeout", "SECS", run_opts, drain_arg,
             "with --collector: deliver at most SECS after CMD (30)"),
    TR_VALUE("experiment", "E", run_opts, experiment, "the run's experiment"),
    TR_VALUE("name", "N", run_opts, name, "the run's name (RUN N: the latest of that name)"),
    TR_LIST("param", "K=V", run_opts, params, nparams, "a parameter (CMD sees TRAIL_PARAM_K=V)"),
    TR_LIST("tag", "K=V", run_opts, tags, ntags, "a tag"),
    TR_VALUE("redact", "PATTERN,...", run_opts, redact, "more environment names to redact"),
    TR_FLAG("no-capture", run_opts, no_capture, "do not preload the capture shim"),
    TR_FLAG("mlflow", run_opts, mlflow, "mlflow in CMD logs into this run (sets MLFLOW_RUN_ID)"),
    TR_FLAG("no-console", run_opts, no_console, "do not keep CMD's stdout and stderr"),
    TR_FLAG("no-console-metrics", run_opts, no_console_metrics,
            "do not read metrics off CMD's output"),
    TR_LIST("metrics-regex", "RE", run_opts, metrics_re, nmetrics_re,
            "metrics by RE: named groups key and value, or NAME"),
    TR_VALUE("system-interval", "S", run_opts, system_arg,
             "sample CPU, memory, I/O, GPUs every S s (10; 0: off)"),
    TR_OPT_END};

const tr_opt_cmd tr_run_cmd = {
    .name = "trail run",
    .args = "[--] CMD [ARG...]",
    .summary = "Run CMD and record it",
    .opts = run_opts_table,
    .min_args = 1,
    .max_args = -1,
    .flags = TR_OPT_STOP,
    .missing = "no command given",
    .args_help = "Options end at CMD (or at --): what follows is CMD's, untouched. The exit\n"
                 "status is CMD's. Records go to --store, else $TRAIL_STORE, else\n"
                 "./.trail/trail.db, or to traild with --collector.\n"};

/* Forward SIGINT/SIGTERM/SIGHUP/SIGQUIT sent to trail (kill, timeout, a scheduler) to CMD.
 * Signals raised by the terminal already reach CMD through the process group. */
static void forward(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    int saved = errno;
    got_signal = sig;
    if (child_pid > 0 && si->si_code <= 0) kill(child_pid, sig);
    errno = saved;
}

static int parse(int argc, char **argv, run_opts *o)
{
    tr_opt_args args;
    memset(o, 0, sizeof *o);
    o->live_grace_s = 2.0;
    const char *g = getenv("TRAIL_LIVE_GRACE_S");
    if (g) o->live_grace_s = atof(g);
    o->drain_s = 30;
    int rc = tr_opt_parse(&tr_run_cmd, argc, argv, o, &args);
    if (rc) return rc;
    if (o->drain_arg && tr_opt_double(&tr_run_cmd, "--drain-timeout", o->drain_arg, 0, &o->drain_s))
        return -1;
    o->system_s = 10;
    if (o->system_arg &&
        tr_opt_double(&tr_run_cmd, "--system-interval", o->system_arg, 0, &o->system_s))
        return -1;
    for (int k = 0; k < o->nparams + o->ntags; k++) {
        const char *v = k < o->nparams ? o->params[k] : o->tags[k - o->nparams];
        if (!strchr(v, '=') || v[0] == '=')
            return tr_opt_error(&tr_run_cmd, "--%s needs KEY=VALUE, got '%s'",
                                k < o->nparams ? "param" : "tag", v);
    }
    const char *env_collector = getenv("TRAIL_COLLECTOR"); /* URL[,URL...], unless --store */
    if (!o->link.url && !o->store && env_collector && *env_collector) o->link.url = env_collector;
    o->collector = o->link.url;
    if (o->collector && o->store)
        return tr_opt_error(&tr_run_cmd, "--store and --collector exclude each other");
    o->cmd = args.argv;
    /* last: nothing after it fails, so the compiled patterns are freed by the run */
    for (int i = 0; i < o->nmetrics_re; i++) {
        char err[512];
        if (tr_cm_rules_add(&con.rules, o->metrics_re[i], err, sizeof err) != 0) {
            tr_cm_rules_free(&con.rules);
            return tr_opt_error(&tr_run_cmd, "--metrics-regex: %s", err);
        }
    }
    return 0;
}

static int emit(tr_enc *e)
{
    long n = tr_enc_finish(e);
    return n < 0 ? (int)n : tr_client_emit(e->buf, (size_t)n);
}

/* A --param or --tag: a value too large for a record is cut (TRUNCATED says by how much, and
 * so does one line on stderr), never dropped. */
static void emit_kv(uint8_t type, const char *kv)
{
    static uint8_t buf[TR_REC_MAX_SIZE];
    tr_enc e;
    const char *eq = strchr(kv, '=');
    size_t kl = (size_t)(eq - kv) < 1024 ? (size_t)(eq - kv) : 1024;
    tr_enc_init(&e, buf, sizeof buf, type, tr_now_ns());
    tr_enc_strn(&e, TR_F_KEY, kv, kl);
    uint64_t cut = (size_t)(eq - kv) - kl;
    cut += tr_enc_str_fit(&e, TR_F_VALUE, eq + 1, TR_REC_MAX_SIZE, 32);
    if (cut) {
        tr_enc_i64(&e, TR_F_TRUNCATED, (int64_t)cut);
        tr_agent_err("--%s %.*s...: value cut by %llu bytes to fit a record",
                     type == TR_REC_PARAM ? "param" : "tag", (int)(kl < 64 ? kl : 64), kv,
                     (unsigned long long)cut);
    }
    emit(&e);
}

/* Who launched the run and when, so a later delivery on this host can tell a launcher that
 * died from one still running (liveness.c, store/settle.c). */
static void enc_launcher(tr_enc *e, const tr_launcher *l)
{
    tr_enc_i64(e, TR_F_LAUNCHER_PID, l->pid);
    if (l->start >= 0) tr_enc_i64(e, TR_F_LAUNCHER_START, l->start);
    if (l->root_start >= 0) tr_enc_i64(e, TR_F_ROOT_START, l->root_start);
    if (l->boot_id[0]) tr_enc_str(e, TR_F_BOOT_ID, l->boot_id);
}

static void emit_start(const run_opts *o, const char *run_id, pid_t pid, int64_t t0,
                       const tr_launcher *l)
{
    static uint8_t buf[TR_REC_MAX_SIZE];
    char cwd[4096] = "", host[256], user[256];
    tr_enc e;
    tr_enc_init(&e, buf, sizeof buf, TR_REC_RUN_START, t0);
    tr_enc_str(&e, TR_F_RUN_ID, run_id);
    tr_enc_str(&e, TR_F_SOURCE, "cli");
    tr_enc_str(&e, TR_F_STATUS, "running");
    /* always fits its frame (a 100 KB --name, 9000 arguments): fields cut, never the record */
    uint64_t cut = tr_enc_str_fit(&e, TR_F_EXPERIMENT, o->experiment, 4096, 0);
    cut += tr_enc_str_fit(&e, TR_F_NAME, o->name, 4096, 0);
    if (getcwd(cwd, sizeof cwd)) tr_enc_str(&e, TR_F_CWD, cwd);
    tr_hostname(host, sizeof host);
    tr_username(user, sizeof user);
    tr_enc_str(&e, TR_F_HOST, host);
    tr_enc_str(&e, TR_F_USER, user);
    tr_enc_i64(&e, TR_F_PID, pid);
    enc_launcher(&e, l);
    static char scratch[16384];
    tr_redact r;
    tr_redact_init(&r, o->redact);
    cut += tr_enc_argv(&e, &r, o->cmd, 40, 64, scratch, sizeof scratch);
    if (cut) tr_enc_i64(&e, TR_F_TRUNCATED, (int64_t)cut);
    emit(&e);
}

/* The one rule (store/settle.c) a settled run's status follows too. */
/* Records lost by CMD's processes that could not make a segment to count them in (the disk was
 * already full when they started): their total, as a DROPPED record of the launcher's. */
static void emit_dropped(const char *spool_dir)
{
    uint64_t n = tr_drops_take(spool_dir);
    if (!n) return;
    uint8_t buf[256];
    tr_enc e;
    tr_enc_init(&e, buf, sizeof buf, TR_REC_DROPPED, tr_now_ns());
    tr_enc_i64(&e, TR_F_COUNT, (int64_t)n);
    tr_enc_str(&e, TR_F_SOURCE, "cli");
    tr_enc_str(&e, TR_F_NOTE, "processes that could not open a spool segment");
    emit(&e);
}

static const char *status_of(int wstatus)
{
    return WIFEXITED(wstatus) ? tr_store_end_status(WEXITSTATUS(wstatus), 0)
                              : tr_store_end_status(0, WTERMSIG(wstatus));
}

static void enc_rusage(tr_enc *e, const struct rusage *ru)
{
    tr_enc_i64(e, TR_F_UTIME_US, (int64_t)ru->ru_utime.tv_sec * 1000000 + ru->ru_utime.tv_usec);
    tr_enc_i64(e, TR_F_STIME_US, (int64_t)ru->ru_stime.tv_sec * 1000000 + ru->ru_stime.tv_usec);
    tr_enc_i64(e, TR_F_MAXRSS_KB, ru->ru_maxrss);
}

/* How CMD ended, and what it used: exit code or signal, then rusage. */
static void enc_wait(tr_enc *e, int wstatus, const struct rusage *ru)
{
    if (WIFEXITED(wstatus))
        tr_enc_i64(e, TR_F_EXIT_CODE, WEXITSTATUS(wstatus));
    else
        tr_enc_i64(e, TR_F_SIGNAL, WTERMSIG(wstatus));
    enc_rusage(e, ru);
}

static int emit_end(const char *run_id, int wstatus, const struct rusage *ru, int exec_errno)
{
    uint8_t buf[1024];
    tr_enc e;
    tr_enc_init(&e, buf, sizeof buf, TR_REC_RUN_END, tr_now_ns());
    tr_enc_str(&e, TR_F_RUN_ID, run_id);
    tr_enc_str(&e, TR_F_SOURCE, "cli");
    if (exec_errno) {
        tr_enc_str(&e, TR_F_STATUS, "failed");
        tr_enc_i64(&e, TR_F_EXIT_CODE, 127);
        tr_enc_str(&e, TR_F_NOTE, strerror(exec_errno));
        enc_rusage(&e, ru);
    } else {
        tr_enc_str(&e, TR_F_STATUS, status_of(wstatus));
        enc_wait(&e, wstatus, ru);
    }
    return emit(&e);
}

/* The root process's end as its parent saw it: settles its last image even when that image
 * could not record its own end (a static binary it exec'd, a SIGKILL). */
static void emit_reaped(pid_t pid, int wstatus, const struct rusage *ru)
{
    uint8_t buf[256];
    tr_enc e;
    tr_enc_init(&e, buf, sizeof buf, TR_REC_PROC_END, tr_now_ns());
    tr_enc_i64(&e, TR_F_PID, pid);
    enc_wait(&e, wstatus, ru);
    tr_enc_str(&e, TR_F_KIND, "reaped");
    tr_enc_str(&e, TR_F_SOURCE, "cli");
    emit(&e);
}

/* The capture shim: $TRAIL_PRELOAD, else libtrail_preload.so in the installed library directory
 * (TRAIL_LIBDIR_REL from bin/, set by CMake) or in the build tree's ../lib next to this binary. */
static int find_preload(char *buf, size_t n)
{
    const char *env = getenv("TRAIL_PRELOAD");
    if (env && *env) {
        if (!realpath(env, buf)) return -1;
        return access(buf, R_OK);
    }
    char exe[4096];
    ssize_t l = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (l <= 0) return -1;
    exe[l] = 0;
    char *slash = strrchr(exe, '/');
    if (!slash) return -1;
    *slash = 0;
    static const char *const rel[] = {TRAIL_LIBDIR_REL, "../lib"};
    for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++) {
        char cand[4200];
        snprintf(cand, sizeof cand, "%s/%s/libtrail_preload.so", exe, rel[i]);
        if (realpath(cand, buf) && strlen(buf) < n && access(buf, R_OK) == 0) return 0;
    }
    return -1;
}

/* Builds CMD's environment: ours, the variables that make the SDK join this run, and each
 * --param K=V as TRAIL_PARAM_K=V so the program can read what it was launched with. */
/* The directory holding this trail's libtrail.so (the installed library directory,
 * TRAIL_LIBDIR_REL from bin/, or the build tree's ../lib next to bin/trail), or 0 chars. */
static void sdk_libdir(char *buf, size_t n)
{
    char exe[4096], cand[4200], lib[4300];
    buf[0] = 0;
    ssize_t l = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (l <= 0) return;
    exe[l] = 0;
    char *slash = strrchr(exe, '/');
    if (!slash) return;
    *slash = 0;
    static const char *const rel[] = {TRAIL_LIBDIR_REL, "../lib"};
    for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++) {
        snprintf(cand, sizeof cand, "%s/%s", exe, rel[i]);
        if (!realpath(cand, buf) || strlen(buf) >= n) continue;
        snprintf(lib, sizeof lib, "%s/libtrail.so.0", buf);
        if (access(lib, R_OK) == 0) return;
    }
    buf[0] = 0;
}

/* LD_LIBRARY_PATH with trail's library directory appended (searched after the user's own
 * entries), so that a program built against this trail's libtrail.so finds it. */
static char *library_path(const char *old, const char *libdir)
{
    size_t l = (old ? strlen(old) : 0) + strlen(libdir) + 32;
    char *p = malloc(l);
    if (!p) return NULL;
    if (old && *old)
        snprintf(p, l, "LD_LIBRARY_PATH=%s:%s", old, libdir);
    else
        snprintf(p, l, "LD_LIBRARY_PATH=%s", libdir);
    return p;
}

static char **child_env(const char *run_id, const char *spool_dir, const run_opts *o,
                        const char *preload)
{
    size_t n = 0;
    for (char **e = environ; *e; e++)
        n++;
    char **env = calloc(n + 7 + (size_t)o->nparams, sizeof *env);
    if (!env) return NULL;
    size_t j = 0;
    const char *old_preload = NULL, *old_libpath = NULL;
    char libdir[4096];
    sdk_libdir(libdir, sizeof libdir);
    for (char **e = environ; *e; e++) {
        if (!strncmp(*e, "LD_PRELOAD=", 11))
            old_preload = *e + 11;
        else if (libdir[0] && !strncmp(*e, "LD_LIBRARY_PATH=", 16))
            old_libpath = *e + 16;
        else if (strncmp(*e, "TRAIL_RUN_ID=", 13) && strncmp(*e, "TRAIL_SPOOL=", 12))
            env[j++] = *e;
    }
    if (libdir[0]) {
        int have = 0;
        for (const char *p = old_libpath; p && *p && !have;) {
            size_t l = strcspn(p, ":");
            have = l == strlen(libdir) && !strncmp(p, libdir, l);
            p += l;
            if (*p) p++;
        }
        if (have)
            env[j++] = (char *)old_libpath - 16;
        else if (!(env[j++] = library_path(old_libpath, libdir)))
            return NULL;
    }
    if (preload) {
        /* ours goes last: sanitizer runtimes insist on coming first, and a command that
         * links one gets it put first (its own loading order, made explicit) */
        char san[64] = "";
        if (tr_sanitizer_runtime(o->cmd[0], san, sizeof san) == 0 && old_preload &&
            strstr(old_preload, san))
            san[0] = 0;
        size_t l = (old_preload ? strlen(old_preload) : 0) + strlen(preload) + sizeof san + 16;
        char *p = malloc(l);
        if (!p) return NULL;
        int w = snprintf(p, l, "LD_PRELOAD=%s%s", san, san[0] ? ":" : "");
        if (old_preload && *old_preload)
            w += snprintf(p + w, l - (size_t)w, "%s%s", old_preload,
                          strstr(old_preload, preload) ? "" : ":");
        if (!old_preload || !strstr(old_preload, preload))
            snprintf(p + w, l - (size_t)w, "%s", preload);
        env[j++] = p;
    } else if (old_preload) {
        env[j++] = (char *)old_preload - 11;
    }
    char *a = malloc(64), *b = malloc(strlen(spool_dir) + 16);
    if (!a || !b) return NULL;
    snprintf(a, 64, "TRAIL_RUN_ID=%s", run_id);
    sprintf(b, "TRAIL_SPOOL=%s", spool_dir);
    env[j++] = a;
    env[j++] = b;
    /* --mlflow: mlflow.start_run() resumes this run (traild's MLflow API serves it by its id);
     * a run id the caller set already is theirs */
    if (o->mlflow && !getenv("MLFLOW_RUN_ID")) {
        char *m = malloc(64);
        if (!m) return NULL;
        snprintf(m, 64, "MLFLOW_RUN_ID=%s", run_id);
        env[j++] = m;
    } else if (o->mlflow) {
        tr_agent_err("--mlflow: MLFLOW_RUN_ID is set already (%.40s): kept",
                     getenv("MLFLOW_RUN_ID"));
    }
    for (int i = 0; i < o->nparams; i++) {
        char *p = malloc(strlen(o->params[i]) + 16);
        if (!p) return NULL;
        sprintf(p, "TRAIL_PARAM_%s", o->params[i]);
        env[j++] = p;
    }
    env[j] = NULL;
    return env;
}

/* Frees what child_env allocated: every entry that is not one of our own environ's. */
static void free_child_env(char **env)
{
    if (!env) return;
    for (char **e = env; *e; e++) {
        int ours = 0;
        for (char **o = environ; *o && !ours; o++)
            ours = *o == *e;
        if (!ours) free(*e);
    }
    free(env);
}

/* path made absolute without needing it to exist (the store may not yet). */
static void absolute_path(const char *path, char *out, size_t n)
{
    char cwd[4096];
    if (realpath(path, out)) return;
    if (path[0] == '/' || !getcwd(cwd, sizeof cwd))
        snprintf(out, n, "%s", path);
    else if (tr_path_join(out, n, cwd, path) != 0)
        snprintf(out, n, "%s", path);
}

/* --mlflow: CMD's mlflow.start_run() asks traild for the run by its id at once, so the run's
 * first records (its start) are made durable before CMD starts: at most MLFLOW_HOLD_NS, then
 * it starts anyway and one line says why. */
static void hold_until_stored(tr_deliver *dl)
{
    int64_t deadline = tr_mono_ns() + MLFLOW_HOLD_NS;
    long n = 0;
    while ((n = tr_deliver_pump(dl, deadline)) <= 0 && tr_mono_ns() < deadline) {
        struct timespec ts = {0, 20 * 1000000L};
        nanosleep(&ts, NULL);
    }
    if (n <= 0)
        tr_agent_err("--mlflow: the run is not stored yet (%s); the command starts anyway, and "
                     "its mlflow may not find run %s",
                     dl->last_msg[0] ? dl->last_msg : "no answer", tr_client_run_id());
}

static int saved_nice = 0, niced = 0;

/* The launcher's priority while CMD runs (CMD has its own already): tr_agent_nice. */
static void lower_priority(void)
{
    int cur = 0;
    if (tr_agent_nice(&cur) == 0) {
        saved_nice = cur;
        niced = 1;
    }
}

int tr_agent_nice(int *was)
{
    const char *v = getenv("TRAIL_AGENT_NICE");
    long step = v && *v ? strtol(v, NULL, 10) : 5;
    if (step <= 0 || step > 19) return -1;
    errno = 0;
    int cur = getpriority(PRIO_PROCESS, 0);
    if (cur == -1 && errno) return -1;
    if (setpriority(PRIO_PROCESS, 0, cur + (int)step) != 0) return -1;
    *was = cur;
    return 0;
}

/* After CMD: the drain at trail's own priority again where it may raise it back (root, or
 * RLIMIT_NICE); otherwise it stays lower, which only the drain feels. */
static void restore_priority(void)
{
    if (niced) setpriority(PRIO_PROCESS, 0, saved_nice);
    niced = 0;
}

/* trail cannot record (no spool directory, no way to set one up): CMD still runs, as itself,
 * with trail's reason in one line. Only what the program would do bare can stop it. */
static int run_unrecorded(const run_opts *o, const char *why)
{
    tr_agent_err("%s: the command runs unrecorded", why);
    fflush(stderr);
    execvp(o->cmd[0], o->cmd);
    int e = errno;
    tr_agent_err("cannot run '%s': %s", o->cmd[0], strerror(e));
    return e == ENOENT ? 127 : 126;
}

int tr_cmd_run(int argc, char **argv)
{
    run_opts o;
    int prc = parse(argc, argv, &o);
    if (prc) return TR_OPT_EXIT(prc);

    char root[4096], spool_dir[4200], run_id[TR_ID_LEN + 1];
    /* The sink, chosen once: traild (an absent collector is not an error), or the store. */
    tr_sink *sink = NULL;
    if (o.collector) {
        char err[4400];
        if (tr_sink_link_open(&sink, &o.link, err, sizeof err) != 0) {
            tr_agent_err("run: %s", err);
            return TR_EXIT_USAGE;
        }
    } else if (!(sink = tr_sink_store_open_lazy(o.store, TR_STORE_CREATE, 1))) {
        /* the store is opened once CMD runs: nothing about it keeps CMD from starting */
        return TR_EXIT_USAGE;
    }
    tr_random_hex(run_id, 16);
    tr_spool_root(root, sizeof root);
    tr_path_join(spool_dir, sizeof spool_dir, root, run_id);
    if (tr_mkdir_p(spool_dir, 0700) != 0) {
        char why[4400];
        snprintf(why, sizeof why, "cannot create spool directory %s: %s", spool_dir,
                 strerror(errno));
        tr_sink_close(sink);
        return run_unrecorded(&o, why);
    }
    /* Leftovers (a writer that outlives CMD) are delivered later by `trail sync` to here. */
    char dest[4300], abs_store[4200];
    if (!o.collector) absolute_path(sink->name, abs_store, sizeof abs_store);
    tr_path_join(dest, sizeof dest, spool_dir, o.collector ? TR_COLLECTOR_MARK : TR_STORE_MARK);
    if (o.collector)
        tr_write_file(dest, o.collector, strlen(o.collector), 0600);
    else
        tr_write_file(dest, abs_store, strlen(abs_store), 0600);

    /* the launcher's own few records (run start and end) are exempt from the spool budget */
    const char *bv = getenv("TRAIL_SPOOL_BUDGET_MB");
    char budget[64] = "";
    if (bv) snprintf(budget, sizeof budget, "%s", bv);
    unsetenv("TRAIL_SPOOL_BUDGET_MB");
    tr_deliver dl;
    if (tr_deliver_open(&dl, spool_dir, sink) != 0) {
        if (budget[0]) setenv("TRAIL_SPOOL_BUDGET_MB", budget, 1); /* CMD's as it was */
        char why[4400];
        snprintf(why, sizeof why, "cannot set up the spool in %s", spool_dir);
        tr_sink_close(sink);
        rmdir(spool_dir);
        return run_unrecorded(&o, why);
    }
    if (tr_client_configure(run_id, spool_dir) != 0) {
        if (budget[0]) setenv("TRAIL_SPOOL_BUDGET_MB", budget, 1);
        char why[4400];
        snprintf(why, sizeof why, "cannot set up the spool in %s", spool_dir);
        tr_deliver_close(&dl);
        tr_sink_close(sink);
        return run_unrecorded(&o, why);
    }
    if (budget[0]) setenv("TRAIL_SPOOL_BUDGET_MB", budget, 1); /* CMD's processes keep it */
    /* our segment now, before CMD can fill the disk: the run's start and end have its reserve */
    int spool_rc = tr_client_prepare();
    if (!spool_rc) spool_rc = tr_drops_create(spool_dir); /* for processes with no segment */
    /* the slab CMD's processes take their first segments from (spool.h): no file per process.
     * TRAIL_SLAB_SLOTS (default TR_SLAB_SLOTS; 0: none, every process makes files) */
    const char *ns = getenv("TRAIL_SLAB_SLOTS");
    long nslots = ns && *ns ? strtol(ns, NULL, 10) : TR_SLAB_SLOTS;
    /* it counts in TRAIL_SPOOL_BUDGET_MB: at most a quarter of it (none under 8 slots) */
    long long quarter = budget[0] ? (strtoll(budget, NULL, 10) << 20) / 4 : -1;
    if (quarter >= 0 && nslots > (quarter - (long long)TR_SLAB_HDR_SIZE) / TR_SLAB_SLOT_CAP)
        nslots = (long)((quarter - (long long)TR_SLAB_HDR_SIZE) / TR_SLAB_SLOT_CAP);
    if (nslots < 8) nslots = 0;
    if (!spool_rc && nslots > 0)
        tr_slab_create(spool_dir, run_id,
                       (uint32_t)(nslots > TR_SLAB_MAX_SLOTS ? TR_SLAB_MAX_SLOTS : nslots),
                       TR_SLAB_SLOT_CAP); /* without one (a full disk) processes make files */
    if (spool_rc)
        tr_agent_err("cannot write to the spool %s (%s): the command runs, but is not recorded",
                     spool_dir, trail_strerror(spool_rc));
    char preload[4096];
    const char *pl = NULL;
    if (!o.no_capture && !tr_env_disabled()) {
        if (find_preload(preload, sizeof preload) == 0)
            pl = preload;
        else
            tr_agent_err("capture shim libtrail_preload.so not found (set TRAIL_PRELOAD); "
                         "recording without file and process capture");
    }
    char **env = child_env(run_id, spool_dir, &o, pl);
    int errpipe[2], gopipe[2] = {-1, -1};
    if (!env || pipe2(errpipe, O_CLOEXEC) != 0 || (o.mlflow && pipe2(gopipe, O_CLOEXEC) != 0)) {
        tr_deliver_close(&dl);
        tr_sink_close(sink);
        return run_unrecorded(&o, "out of resources starting the command");
    }

    /* CMD's output through a pty or pipes, shown, kept and read for metrics (console.c) */
    static tr_sysmetrics sys;
    if (tr_console_open(&con, !o.no_console, !o.no_console_metrics) != 0)
        tr_agent_err("cannot keep the console (%s); CMD writes to ours", strerror(errno));
    struct sigaction sa = {0}, old[4], old_pipe;
    const int fwd[4] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
    sa.sa_sigaction = forward;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    for (int i = 0; i < 4; i++)
        sigaction(fwd[i], &sa, &old[i]);

    /* orphans of the run come to us: children of static processes among them (kids.c) */
    prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    int64_t t0 = tr_now_ns();
    pid_t pid = fork();
    if (pid < 0) {
        char why[256];
        snprintf(why, sizeof why, "fork: %s", strerror(errno));
        for (int i = 0; i < 4; i++)
            sigaction(fwd[i], &old[i], NULL);
        tr_deliver_close(&dl);
        tr_sink_close(sink);
        return run_unrecorded(&o, why);
    }
    if (pid == 0) {
        for (int i = 0; i < 4; i++)
            sigaction(fwd[i], &old[i], NULL);
        close(errpipe[0]);
        tr_console_child(&con);
        if (gopipe[0] >= 0) { /* --mlflow: not before the run is stored (EOF: go) */
            char c;
            close(gopipe[1]);
            while (read(gopipe[0], &c, 1) < 0 && errno == EINTR) {
            }
        }
        execvpe(o.cmd[0], o.cmd, env);
        int e = errno;
        ssize_t w = write(errpipe[1], &e, sizeof e);
        (void)w;
        _exit(127);
    }
    child_pid = pid;
    /* and at a lower priority from now on (TRAIL_AGENT_NICE, default 5; CMD keeps its own:
     * forked before this) */
    lower_priority();
    close(errpipe[1]);
    tr_console_started(&con, pid);
    /* a closed stdout of ours stops the copy to it (console.c), it does not kill trail */
    struct sigaction ign = {0};
    ign.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &ign, &old_pipe);

    /* who launched the run, in its spool directory too: should this process die, the next
     * delivery ends the run through whatever sink it has (liveness.c) */
    tr_launcher self;
    tr_launcher_self(&self, getpid(), pid);
    emit_start(&o, run_id, pid, t0, &self);
    if (!spool_rc) tr_launcher_write(spool_dir, &self); /* after the start it would settle */
    for (int i = 0; i < o.nparams; i++)
        emit_kv(TR_REC_PARAM, o.params[i]);
    for (int i = 0; i < o.ntags; i++)
        emit_kv(TR_REC_TAG, o.tags[i]);
    tr_env_record(env, o.redact, 0);
    if (gopipe[1] >= 0) {
        close(gopipe[0]);
        hold_until_stored(&dl);
        close(gopipe[1]); /* CMD goes on */
    }
    int exec_errno = 0;
    if (read(errpipe[0], &exec_errno, sizeof exec_errno) != (ssize_t)sizeof exec_errno)
        exec_errno = 0;
    close(errpipe[0]);
    if (exec_errno) tr_agent_err("cannot run '%s': %s", o.cmd[0], strerror(exec_errno));
    tr_sys_open(&sys, exec_errno ? 0 : pid, o.system_s);

    /* While CMD runs, trail gives way to it: delivery batched by time, one batch at most every
     * DELIVER_NS (for a slice, longer while a backlog lasts), not after every burst. */
    int wstatus = 0, reported = 0;
    int64_t next_pump = 0;
    struct rusage ru;
    memset(&ru, 0, sizeof ru);
    tr_kids *kids = exec_errno ? NULL : tr_kids_open(pid);
    int kids_ms = 1000;
    for (;;) {
        int ws = 0;
        struct rusage wru;
        pid_t w = wait4(-1, &ws, WNOHANG, &wru);
        if (w == pid) {
            wstatus = ws;
            ru = wru;
            break;
        }
        if (w > 0) { /* an orphan of the run */
            tr_kids_reaped(kids, w, ws, &wru);
            continue;
        }
        if (w < 0 && errno != EINTR) {
            tr_agent_err("wait: %s", strerror(errno));
            break;
        }
        kids_ms = tr_kids_tick(kids);
        int64_t now = tr_mono_ns();
        if (now >= next_pump) { /* a batch, and more while a backlog is left, for one slice */
            /* A pump takes every record committed so far; only a full batch of the sink
             * (dl.more) leaves a backlog. Pumping again whenever a pump found records made a
             * stream of short processes (a shell loop, make) cost a transaction and an
             * fdatasync every millisecond or so while CMD ran: the launcher busy beside it. */
            int64_t slice_end = now + DELIVER_SLICE_NS;
            long n;
            do
                n = tr_deliver_pump(&dl, 0);
            while (n > 0 && dl.more && tr_mono_ns() < slice_end);
            if (n < 0 && n != TRAIL_EAGAIN && !reported++)
                tr_agent_err("%s (will retry)", dl.last_msg);
            next_pump = n > 0 && dl.more ? tr_mono_ns() : tr_mono_ns() + DELIVER_NS;
        }
        struct pollfd pfd[2];
        int np = tr_console_pollfds(&con, pfd);
        /* the console as it comes; otherwise asleep until the next delivery or the next look
         * for children of static processes, POLL_NS at most (CMD's end: the next wait4) */
        int64_t wait_ns = next_pump - tr_mono_ns();
        if (wait_ns > POLL_NS) wait_ns = POLL_NS;
        if (wait_ns > kids_ms * 1000000LL) wait_ns = kids_ms * 1000000LL;
        if (wait_ns < 0) wait_ns = 0;
        if (poll(pfd, (nfds_t)np, (int)(wait_ns / 1000000)) > 0) tr_console_ready(&con, pfd, np);
        tr_sys_tick(&sys);
    }
    if (kids) tr_kids_tick(kids); /* a last look: static children that ended since the last one */
    tr_kids_close(kids);
    restore_priority();
    tr_console_finish(&con); /* what is still in flight, then the kept tail */
    tr_sys_close(&sys);
    tr_cm_rules_free(&con.rules);
    child_pid = 0;
    if (!exec_errno && pl) emit_reaped(pid, wstatus, &ru);
    emit_dropped(spool_dir);
    int end_rc = emit_end(run_id, wstatus, &ru, exec_errno);
    tr_client_shutdown(); /* closes our own segment */
    char note[4300];      /* the run's end is recorded: nothing for a later delivery to settle */
    if (end_rc == 0 && tr_path_join(note, sizeof note, spool_dir, TR_LAUNCHER_FILE) == 0)
        unlink(note);

    /* Drain: everything committed now (and its enrichment), then wait briefly for writers
     * still alive (processes CMD left behind); what they write later waits for `trail sync`
     * or `trail agent`. A store that cannot be opened is said in one line. */
    char why[4400];
    if (!o.collector &&
        tr_sink_store_attach(sink, tr_mono_ns() + (int64_t)(o.drain_s * 1e9), why, sizeof why))
        tr_agent_err("%s; the run's records wait in %s for `trail sync`", why, spool_dir);
    else
        tr_deliver_finish_run(&dl, o.drain_s, o.live_grace_s);
    if (dl.undecodable)
        tr_agent_err("%llu undecodable record(s) skipped", (unsigned long long)dl.undecodable);
    tr_spool_stats ss;
    tr_spool_reader_stats(dl.reader, &ss);
    if (dl.dropped)
        tr_agent_err("%llu record(s) of this run were dropped: the spool %s was full or over its "
                     "budget (trail show counts them)",
                     (unsigned long long)dl.dropped, spool_dir);
    if (ss.torn || ss.corrupt)
        tr_agent_err("%llu damaged spool frame(s) skipped",
                     (unsigned long long)(ss.torn + ss.corrupt));
    int left = tr_deliver_pending(&dl);
    tr_deliver_close(&dl);
    tr_sink_close(sink);
    if (left == 0) {
        unlink(dest);
        char drops[4300];
        if (tr_path_join(drops, sizeof drops, spool_dir, TR_DROPS_FILE) == 0) unlink(drops);
        rmdir(spool_dir);
    }
    for (int i = 0; i < 4; i++)
        sigaction(fwd[i], &old[i], NULL);
    sigaction(SIGPIPE, &old_pipe, NULL);
    free_child_env(env);
    if (exec_errno) return exec_errno == ENOENT ? 127 : 126;
    if (WIFEXITED(wstatus)) return WEXITSTATUS(wstatus);
    return 128 + WTERMSIG(wstatus);
}
