/* trail.h - public SDK: log params, metrics, tags and files of a run into trail. */
#ifndef TRAIL_H
#define TRAIL_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define TRAIL_API __attribute__((visibility("default")))
#else
#define TRAIL_API
#endif

/* Every function returns 0 or one of these negative codes. */
#define TRAIL_OK 0
#define TRAIL_EINVAL (-1)      /* invalid argument */
#define TRAIL_ENOMEM (-2)      /* out of memory */
#define TRAIL_EIO (-3)         /* I/O error (see errno-level detail in logs) */
#define TRAIL_ECORRUPT (-4)    /* malformed or corrupt data */
#define TRAIL_ETOOBIG (-5)     /* value or record too large */
#define TRAIL_ENOSPC (-6)      /* spool or disk full */
#define TRAIL_ENORUN (-7)      /* no active run */
#define TRAIL_EACTIVE (-8)     /* a run is already active */
#define TRAIL_EDISABLED (-9)   /* trail is disabled (TRAIL_DISABLE=1) */
#define TRAIL_EVERSION (-10)   /* data from a newer, unknown format version */
#define TRAIL_EBUSY (-11)      /* resource locked by another process */
#define TRAIL_ENOTFOUND (-12)  /* no such run or object */
#define TRAIL_EAMBIGUOUS (-13) /* reference matches more than one object */
#define TRAIL_EKEY (-14)       /* invalid key (empty, too long, bad character) */
#define TRAIL_EVALUE (-15)     /* invalid value */
#define TRAIL_ESTORE (-16)     /* store (SQLite) error */
#define TRAIL_EAGAIN (-17)     /* try again later */
#define TRAIL_EPROTO (-18)     /* protocol error */
#define TRAIL_EAUTH (-19)      /* authentication failed */
#define TRAIL_ETIMEDOUT (-20)  /* timed out */
#define TRAIL_ECLOSED (-21)    /* closed */
#define TRAIL_ENOTSUP (-22)    /* not supported */
#define TRAIL_EPARAM (-23)     /* param already logged with another value */

/* The one table of error codes: X(NAME, value, text) for each TRAIL_E<NAME> above (the library
 * checks at build time that every macro has its value here). trail_strerror() and
 * trail_err_name() are generated from it; so can a binding's list of codes:
 *   #define MY_CASE(name, value, text) case TRAIL_E##name: ...
 *   switch (rc) { TRAIL_ERRNO_MAP(MY_CASE) } */
#define TRAIL_ERRNO_MAP(X)                                                                         \
    X(INVAL, -1, "invalid argument")                                                               \
    X(NOMEM, -2, "out of memory")                                                                  \
    X(IO, -3, "I/O error")                                                                         \
    X(CORRUPT, -4, "malformed or corrupt data")                                                    \
    X(TOOBIG, -5, "value or record too large")                                                     \
    X(NOSPC, -6, "spool or disk full")                                                             \
    X(NORUN, -7, "no active run")                                                                  \
    X(ACTIVE, -8, "a run is already active")                                                       \
    X(DISABLED, -9, "trail is disabled (TRAIL_DISABLE)")                                           \
    X(VERSION, -10, "data from a newer format version")                                            \
    X(BUSY, -11, "locked by another process")                                                      \
    X(NOTFOUND, -12, "not found")                                                                  \
    X(AMBIGUOUS, -13, "ambiguous reference")                                                       \
    X(KEY, -14, "invalid key (1-250 characters of A-Z a-z 0-9 _ - . / space :)")                   \
    X(VALUE, -15, "invalid value")                                                                 \
    X(STORE, -16, "store error")                                                                   \
    X(AGAIN, -17, "try again")                                                                     \
    X(PROTO, -18, "protocol error")                                                                \
    X(AUTH, -19, "authentication failed")                                                          \
    X(TIMEDOUT, -20, "timed out")                                                                  \
    X(CLOSED, -21, "closed")                                                                       \
    X(NOTSUP, -22, "not supported")                                                                \
    X(PARAM, -23, "param already logged with another value")

/* Final status given to trail_end_run. */
#define TRAIL_STATUS_FINISHED 0
#define TRAIL_STATUS_FAILED 1
#define TRAIL_STATUS_KILLED 2

/* Keys: 1..250 bytes of [A-Za-z0-9_.-/ :] (MLflow's rule). Values: up to 6000 bytes. */
#define TRAIL_KEY_MAX 250
#define TRAIL_VALUE_MAX 6000

/* Start a run. Under `trail run` the program already belongs to a run: this call joins it and
 * names it if the command line did not. Outside, it starts a new run whose records wait in the
 * spool until `trail agent` or `trail sync` delivers them. Either argument may be NULL. */
TRAIL_API int trail_start_run(const char *experiment, const char *name);
/* End the run started by trail_start_run (or the implicit one) with a TRAIL_STATUS_*. */
TRAIL_API int trail_end_run(int status);
/* Params are immutable: logging a key again with the same value is fine, another value fails
 * with TRAIL_EPARAM (trail_last_error names the first value). Under `trail run`, each
 * --param K=V of the command line counts as logged. */
TRAIL_API int trail_log_param(const char *key, const char *value);
/* NaN and +-Inf are legal values; the timestamp is taken here. */
TRAIL_API int trail_log_metric(const char *key, double value, int64_t step);
TRAIL_API int trail_set_tag(const char *key, const char *value);
/* Declare a file the run read (input) or wrote (output); relative paths use the cwd. */
TRAIL_API int trail_log_input(const char *path);
TRAIL_API int trail_log_output(const char *path);
/* Make every record logged so far visible to readers (msync of the spool segment). */
TRAIL_API int trail_flush(void);
/* The id of the current run (32 hex characters), or NULL when none is active. */
TRAIL_API const char *trail_run_id(void);
/* Human-readable text for a TRAIL_E* code ("success" for 0, "unknown error" for a code not in
 * TRAIL_ERRNO_MAP); never NULL. */
TRAIL_API const char *trail_strerror(int err);
/* The name of a code: "TRAIL_ENOTFOUND", "TRAIL_OK" for 0, "unknown error" otherwise; never
 * NULL. */
TRAIL_API const char *trail_err_name(int err);
/* The detail of the last call of this thread that failed ("param 'lr' already logged as
 * '0.1'"), or "" when it had none; never NULL. */
TRAIL_API const char *trail_last_error(void);

#ifdef __cplusplus
}
#endif
#endif
