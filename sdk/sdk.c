/* sdk.c - the public SDK: validates input, encodes records and hands them to the client core. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "argv_rec.h"
#include "client.h"
#include "launcher.h"
#include "record.h"
#include "strmap.h"
#include "trail.h"
#include "util.h"

#define SDK_BUF 8192 /* every SDK record fits: key <= 250, value <= 6000 */

static pthread_mutex_t sdk_mu = PTHREAD_MUTEX_INITIALIZER;
static int sdk_state; /* 0 = not initialised, 1 = ready, TRAIL_EDISABLED */
static int joined;    /* the run belongs to `trail run` (TRAIL_RUN_ID in the environment) */
static int owns_run;  /* this process started the run and must end it */
static pid_t owner_pid;
static int atexit_done;
static tr_strmap *params;           /* key -> value of every param logged by this process */
static __thread char last_err[512]; /* trail_last_error: the detail of this thread's last failure */

/* The characters a key may hold: a b..z A..Z 0..9 _ - . / space : (one load per character). */
#define KC_RANGE(a, b) [a... b] = 1
static const unsigned char key_char[256] = {
    KC_RANGE('a', 'z'), KC_RANGE('A', 'Z'), KC_RANGE('0', '9'), ['_'] = 1, ['-'] = 1,
    ['.'] = 1,          ['/'] = 1,          [' '] = 1,          [':'] = 1,
};

/* The key's length when it is a valid key, else 0. */
static size_t key_len(const char *key)
{
    if (!key) return 0;
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)key; *p; p++, n++)
        if (!key_char[*p] || n >= TRAIL_KEY_MAX) return 0;
    return n;
}

static int key_ok(const char *key)
{
    return key_len(key) > 0;
}

static int value_ok(const char *v)
{
    return v && strlen(v) <= TRAIL_VALUE_MAX;
}

static int emit(tr_enc *e)
{
    long n = tr_enc_finish(e);
    if (n < 0) return (int)n;
    return tr_client_emit(e->buf, (size_t)n);
}

/* The command line, redacted and cut to fit as every producer records it (argv_rec.c). */
static void read_cmdline(tr_enc *e)
{
    static char buf[16384], scratch[8192];
    static char *argv[257];
    long n = tr_read_file("/proc/self/cmdline", buf, sizeof buf - 1);
    if (n <= 0) return;
    buf[n] = 0;
    int k = 0;
    for (long i = 0; i < n && k < 256; i += (long)strlen(buf + i) + 1)
        argv[k++] = buf + i;
    argv[k] = NULL;
    tr_redact r;
    tr_redact_init(&r, NULL);
    uint64_t cut = tr_enc_argv(e, &r, argv, 40, 64, scratch, sizeof scratch);
    if (cut) tr_enc_i64(e, TR_F_TRUNCATED, (int64_t)cut);
}

static int start_run_locked(const char *experiment, const char *name);

/* The params `trail run --param K=V` logged (exported as TRAIL_PARAM_K=V): this process counts
 * them as logged. Called with sdk_mu held. */
static void seed_params_locked(void)
{
    extern char **environ;
    for (char **e = environ; e && *e; e++) {
        if (strncmp(*e, "TRAIL_PARAM_", 12)) continue;
        const char *k = *e + 12, *eq = strchr(k, '=');
        if (!eq || eq == k) continue;
        if (!params && !(params = tr_strmap_new())) return;
        const char *v = tr_strmap_strdup(params, eq + 1, strlen(eq + 1));
        if (v) tr_strmap_add(params, k, (size_t)(eq - k), (tr_mapval){.s = v}, NULL);
    }
}

/* 0 when key may be logged with value (first time: remembered), 1 when it was logged with
 * this value already, TRAIL_EPARAM (detail in last_err) for another value. */
static int param_claim(const char *key, const char *value)
{
    tr_mapval have;
    int rc = 0;
    pthread_mutex_lock(&sdk_mu);
    if (!params && !(params = tr_strmap_new())) {
        rc = TRAIL_ENOMEM;
    } else if (tr_strmap_get(params, key, strlen(key), &have) && have.s) {
        if (strcmp(have.s, value) == 0) {
            rc = 1;
        } else {
            snprintf(last_err, sizeof last_err, "param '%s' already logged as '%.200s'", key,
                     have.s);
            rc = TRAIL_EPARAM;
        }
    } else {
        const char *v = tr_strmap_strdup(params, value, strlen(value));
        if (!v || tr_strmap_set(params, key, strlen(key), (tr_mapval){.s = v}) < 0)
            rc = TRAIL_ENOMEM;
    }
    pthread_mutex_unlock(&sdk_mu);
    return rc;
}

/* Forgets a claim whose record could not be written (the key may be logged again). */
static void param_unclaim(const char *key)
{
    pthread_mutex_lock(&sdk_mu);
    long i = params ? tr_strmap_find(params, key, strlen(key)) : -1;
    if (i >= 0) tr_strmap_val(params, (size_t)i)->s = NULL;
    pthread_mutex_unlock(&sdk_mu);
}

/* The run this process started has its end recorded: no launcher note for the agent to act on
 * (common/launcher.h). */
static void drop_launcher_note(void)
{
    char note[4300];
    const char *dir = tr_client_spool_dir();
    if (dir && tr_path_join(note, sizeof note, dir, TR_LAUNCHER_FILE) == 0) unlink(note);
}

static void at_exit(void)
{
    pthread_mutex_lock(&sdk_mu);
    if (owns_run && owner_pid == getpid()) {
        uint8_t buf[512];
        tr_enc e;
        tr_enc_init(&e, buf, sizeof buf, TR_REC_RUN_END, tr_now_ns());
        tr_enc_str(&e, TR_F_RUN_ID, tr_client_run_id());
        tr_enc_str(&e, TR_F_STATUS, "finished");
        tr_enc_i64(&e, TR_F_EXIT_CODE, 0);
        tr_enc_str(&e, TR_F_SOURCE, "sdk");
        if (emit(&e) == 0) drop_launcher_note();
        owns_run = 0;
    }
    pthread_mutex_unlock(&sdk_mu);
    tr_client_shutdown();
}

/* Joins `trail run`'s run when the environment names one; otherwise starts a run when
 * `implicit` is set. Called with sdk_mu held. */
static int ensure_run_locked(int implicit)
{
    if (sdk_state == 0) {
        int rc = tr_client_from_env();
        if (rc == TRAIL_EDISABLED) {
            sdk_state = TRAIL_EDISABLED;
            return sdk_state;
        }
        if (rc == 1) {
            joined = 1;
            seed_params_locked();
        }
        sdk_state = 1;
        if (!atexit_done) {
            atexit(at_exit);
            atexit_done = 1;
        }
    }
    if (sdk_state < 0) return sdk_state;
    if (tr_client_run_id()) return 0;
    if (!implicit) return TRAIL_ENORUN;
    return start_run_locked(getenv("TRAIL_EXPERIMENT"), getenv("TRAIL_RUN_NAME"));
}

static int start_run_locked(const char *experiment, const char *name)
{
    char run_id[TR_ID_LEN + 1], root[4096], dir[4200];
    tr_random_hex(run_id, 16);
    tr_spool_root(root, sizeof root);
    if (tr_path_join(dir, sizeof dir, root, run_id) != 0) return TRAIL_ETOOBIG;
    int rc = tr_client_configure(run_id, dir);
    if (rc) return rc;
    owns_run = 1;
    owner_pid = getpid();
    uint8_t buf[32768];
    char cwd[4096], host[256], user[256];
    tr_enc e;
    tr_enc_init(&e, buf, sizeof buf, TR_REC_RUN_START, tr_now_ns());
    tr_enc_str(&e, TR_F_RUN_ID, run_id);
    tr_enc_str(&e, TR_F_SOURCE, "sdk");
    if (experiment && *experiment)
        tr_enc_str_trunc(&e, TR_F_EXPERIMENT, experiment, strlen(experiment), 0);
    if (name && *name) tr_enc_str_trunc(&e, TR_F_NAME, name, strlen(name), 0);
    if (getcwd(cwd, sizeof cwd)) tr_enc_str(&e, TR_F_CWD, cwd);
    tr_hostname(host, sizeof host);
    tr_username(user, sizeof user);
    tr_enc_str(&e, TR_F_HOST, host);
    tr_enc_str(&e, TR_F_USER, user);
    tr_enc_i64(&e, TR_F_PID, getpid());
    tr_enc_str(&e, TR_F_STATUS, "running");
    /* this process is the run's launcher and root: should it die without ending the run, the
     * next `trail sync` or `trail agent` on this host ends it (store/settle.c) */
    tr_launcher self;
    tr_launcher_self(&self, getpid(), getpid());
    tr_enc_i64(&e, TR_F_LAUNCHER_PID, self.pid);
    if (self.start >= 0) tr_enc_i64(&e, TR_F_LAUNCHER_START, self.start);
    if (self.start >= 0) tr_enc_i64(&e, TR_F_ROOT_START, self.start);
    if (self.boot_id[0]) tr_enc_str(&e, TR_F_BOOT_ID, self.boot_id);
    read_cmdline(&e);
    rc = emit(&e);
    if (rc == 0) tr_launcher_write(dir, &self); /* the segment made the directory */
    return rc;
}

static int do_start_run(const char *experiment, const char *name)
{
    if ((experiment && strlen(experiment) > TRAIL_VALUE_MAX) ||
        (name && strlen(name) > TRAIL_VALUE_MAX))
        return TRAIL_EVALUE;
    pthread_mutex_lock(&sdk_mu);
    int rc = ensure_run_locked(0);
    if (rc == TRAIL_ENORUN) {
        rc = start_run_locked(experiment, name);
    } else if (rc == 0 && joined) {
        /* under `trail run`: name the run unless the command line already did */
        uint8_t buf[SDK_BUF * 2];
        tr_enc e;
        tr_enc_init(&e, buf, sizeof buf, TR_REC_RUN_META, tr_now_ns());
        tr_enc_str(&e, TR_F_RUN_ID, tr_client_run_id());
        tr_enc_str(&e, TR_F_EXPERIMENT, experiment);
        tr_enc_str(&e, TR_F_NAME, name);
        rc = emit(&e);
    } else if (rc == 0) {
        rc = TRAIL_EACTIVE;
    }
    pthread_mutex_unlock(&sdk_mu);
    return rc;
}

static int do_end_run(int status)
{
    static const char *names[] = {"finished", "failed", "killed"};
    if (status < TRAIL_STATUS_FINISHED || status > TRAIL_STATUS_KILLED) return TRAIL_EINVAL;
    pthread_mutex_lock(&sdk_mu);
    int rc = ensure_run_locked(0);
    if (rc == 0) {
        uint8_t buf[512];
        tr_enc e;
        if (joined) { /* the launcher owns the final status: keep what the program said */
            tr_enc_init(&e, buf, sizeof buf, TR_REC_TAG, tr_now_ns());
            tr_enc_str(&e, TR_F_KEY, "trail.sdk_end_status");
            tr_enc_str(&e, TR_F_VALUE, names[status]);
            rc = emit(&e);
        } else {
            tr_enc_init(&e, buf, sizeof buf, TR_REC_RUN_END, tr_now_ns());
            tr_enc_str(&e, TR_F_RUN_ID, tr_client_run_id());
            tr_enc_str(&e, TR_F_STATUS, names[status]);
            tr_enc_str(&e, TR_F_SOURCE, "sdk");
            rc = emit(&e);
            if (rc == 0) drop_launcher_note();
            owns_run = 0;
            tr_client_reset();
        }
    }
    pthread_mutex_unlock(&sdk_mu);
    return rc;
}

static int ready(void)
{
    if (__atomic_load_n(&sdk_state, __ATOMIC_ACQUIRE) == 1 && tr_client_run_id()) return 0;
    pthread_mutex_lock(&sdk_mu);
    int rc = ensure_run_locked(1);
    pthread_mutex_unlock(&sdk_mu);
    return rc;
}

static int log_kv(uint8_t type, const char *key, const char *value)
{
    if (!key_ok(key)) return TRAIL_EKEY;
    if (!value_ok(value)) return value ? TRAIL_ETOOBIG : TRAIL_EVALUE;
    int rc = ready();
    if (rc) return rc;
    if (type == TR_REC_PARAM && (rc = param_claim(key, value))) return rc < 0 ? rc : 0;
    uint8_t buf[SDK_BUF];
    tr_enc e;
    tr_enc_init(&e, buf, sizeof buf, type, tr_now_ns());
    tr_enc_str(&e, TR_F_KEY, key);
    tr_enc_str(&e, TR_F_VALUE, value);
    rc = emit(&e);
    if (rc && type == TR_REC_PARAM) param_unclaim(key);
    return rc;
}

/* The hot path: one pass over the key, one encoding pass, then into this thread's own
 * segment when it has one (client.c). */
static int do_log_metric(const char *key, double value, int64_t step)
{
    size_t n = key_len(key);
    if (!n) return TRAIL_EKEY;
    int rc = ready();
    if (rc) return rc;
    uint8_t buf[512];
    long len = tr_enc_metric(buf, sizeof buf, tr_now_ns(), key, n, value, step);
    return len < 0 ? (int)len : tr_client_emit_hot(buf, (size_t)len);
}

static int log_file(const char *path, const char *role)
{
    if (!path || !*path) return TRAIL_EINVAL;
    char cwd[4096], abs[4096];
    if (!getcwd(cwd, sizeof cwd)) return TRAIL_EIO;
    if (tr_path_normalize(path, cwd, abs, sizeof abs) != 0) return TRAIL_ETOOBIG;
    struct stat st;
    int have = stat(abs, &st) == 0;
    if (!have && strcmp(role, "input") == 0) return TRAIL_ENOTFOUND;
    int rc = ready();
    if (rc) return rc;
    uint8_t buf[SDK_BUF];
    tr_enc e;
    tr_enc_init(&e, buf, sizeof buf, TR_REC_FILE, tr_now_ns());
    tr_enc_str(&e, TR_F_PATH, abs);
    tr_enc_str(&e, TR_F_ROLE, role);
    tr_enc_str(&e, TR_F_SOURCE, "sdk");
    tr_enc_i64(&e, TR_F_PID, getpid());
    if (have) {
        tr_enc_u64(&e, TR_F_DEV, (uint64_t)st.st_dev);
        tr_enc_u64(&e, TR_F_INO, (uint64_t)st.st_ino);
        tr_enc_i64(&e, TR_F_SIZE, (int64_t)st.st_size);
        tr_enc_i64(&e, TR_F_MTIME_NS,
                   (int64_t)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec);
        tr_enc_u64(&e, strcmp(role, "input") == 0 ? TR_F_BYTES_READ : TR_F_BYTES_WRITTEN,
                   (uint64_t)st.st_size);
    }
    return emit(&e);
}

static int do_flush(void)
{
    int rc = ready();
    return rc ? rc : tr_client_flush();
}

static const char *do_run_id(void)
{
    if (ready() != 0) return NULL;
    return tr_client_run_id();
}

/* Public entry points: the host program's errno is the same after every call; a call starts
 * with no error detail. */
#define KEEP_ERRNO(T, call)                                                                        \
    do {                                                                                           \
        int saved_ = errno;                                                                        \
        last_err[0] = 0;                                                                           \
        T rc_ = call;                                                                              \
        errno = saved_;                                                                            \
        return rc_;                                                                                \
    } while (0)

TRAIL_API int trail_start_run(const char *experiment, const char *name)
{
    KEEP_ERRNO(int, do_start_run(experiment, name));
}

TRAIL_API int trail_end_run(int status)
{
    KEEP_ERRNO(int, do_end_run(status));
}

TRAIL_API int trail_log_param(const char *key, const char *value)
{
    KEEP_ERRNO(int, log_kv(TR_REC_PARAM, key, value));
}

TRAIL_API int trail_set_tag(const char *key, const char *value)
{
    KEEP_ERRNO(int, log_kv(TR_REC_TAG, key, value));
}

TRAIL_API int trail_log_metric(const char *key, double value, int64_t step)
{
    KEEP_ERRNO(int, do_log_metric(key, value, step));
}

TRAIL_API int trail_log_input(const char *path)
{
    KEEP_ERRNO(int, log_file(path, "input"));
}

TRAIL_API int trail_log_output(const char *path)
{
    KEEP_ERRNO(int, log_file(path, "output"));
}

TRAIL_API int trail_flush(void)
{
    KEEP_ERRNO(int, do_flush());
}

TRAIL_API const char *trail_run_id(void)
{
    KEEP_ERRNO(const char *, do_run_id());
}

TRAIL_API const char *trail_last_error(void)
{
    return last_err;
}
