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
#define TRAIL_EINVAL (-1)     /* invalid argument */
#define TRAIL_ENOMEM (-2)     /* out of memory */
#define TRAIL_EIO (-3)        /* I/O error (see errno-level detail in logs) */
#define TRAIL_ECORRUPT (-4)   /* malformed or corrupt data */
#define TRAIL_ETOOBIG (-5)    /* value or record too large */
#define TRAIL_ENOSPC (-6)     /* spool or disk full */
#define TRAIL_ENORUN (-7)     /* no active run */
#define TRAIL_EACTIVE (-8)    /* a run is already active */
#define TRAIL_EDISABLED (-9)  /* trail is disabled (TRAIL_DISABLE=1) */
#define TRAIL_EVERSION (-10)  /* data from a newer, unknown format version */
#define TRAIL_EBUSY (-11)     /* resource locked by another process */
#define TRAIL_ENOTFOUND (-12) /* no such run or object */
#define TRAIL_EAMBIGUOUS (-13) /* reference matches more than one object */
#define TRAIL_EKEY (-14)      /* invalid key (empty, too long, bad character) */
#define TRAIL_EVALUE (-15)    /* invalid value */
#define TRAIL_ESTORE (-16)    /* store (SQLite) error */
#define TRAIL_EAGAIN (-17)    /* try again later */
#define TRAIL_EPROTO (-18)    /* protocol error */
#define TRAIL_EAUTH (-19)     /* authentication failed */
#define TRAIL_ETIMEDOUT (-20) /* timed out */
#define TRAIL_ECLOSED (-21)   /* closed */
#define TRAIL_ENOTSUP (-22)   /* not supported */

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
/* Human-readable text for a TRAIL_E* code; never NULL. */
TRAIL_API const char *trail_strerror(int err);

#ifdef __cplusplus
}
#endif
#endif
