/* util.h - small helpers shared by every trail component: clocks, ids, paths, names. */
#ifndef TR_UTIL_H
#define TR_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define TR_ID_LEN 32 /* run and stream ids: 128 random bits in lowercase hex */

int64_t tr_now_ns(void);  /* CLOCK_REALTIME */
int64_t tr_mono_ns(void); /* CLOCK_MONOTONIC */
/* Fills out with 2*nbytes hex characters and a NUL (getrandom, falling back to time+pid). */
void tr_random_hex(char *out, size_t nbytes);
int tr_is_hex_id(const char *s);
/* mkdir -p with mode for every created component; 0 or TRAIL_EIO (errno kept). */
int tr_mkdir_p(const char *path, mode_t mode);
/* Host name and user name, never failing (fallbacks "unknown" / the numeric uid). */
void tr_hostname(char *buf, size_t n);
void tr_username(char *buf, size_t n);
/* Root of the node's spool: $TRAIL_SPOOL_ROOT, else $HOME/.trail/spool, else /tmp/trail-UID/spool.
 */
void tr_spool_root(char *buf, size_t n);
/* Joins a and b with one '/', into buf; returns TRAIL_ETOOBIG when it does not fit. */
int tr_path_join(char *buf, size_t n, const char *a, const char *b);
/* Appends the components of rel to the normalised absolute path out[0..len), resolving "."
 * and ".." lexically, without copying rel first (the shim calls it on every open). Returns
 * the new length or -1 when it does not fit in n. */
int tr_path_append(char *out, int len, size_t n, const char *rel);
/* Makes path absolute (against the cwd) and removes ".", ".." and repeated slashes lexically. */
int tr_path_normalize(const char *path, const char *cwd, char *out, size_t n);
/* The one hash of trail: FNV-1a 64 over n bytes. tr_hash64_more continues a hash (start from
 * TR_HASH64_INIT), so that several pieces hash as their concatenation. Allocation-free and
 * async-signal-safe (the shim uses it). Stored data depends on it (tr_store_version_id). */
#define TR_HASH64_INIT 0xcbf29ce484222325ull
uint64_t tr_hash64(const void *p, size_t n);
uint64_t tr_hash64_more(uint64_t h, const void *p, size_t n);
/* The same over a NUL-terminated string (no strlen pass first). */
uint64_t tr_hash64_str(uint64_t h, const char *s);
/* snprintf that reports truncation: 0, or TRAIL_ETOOBIG when out was too small (a cut path is
 * never used). */
int tr_fmt(char *out, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The first dir/file over the ':'-separated dirs of path (an empty entry: the current
 * directory) for which ok(candidate) is 1, as execvp searches PATH; 0 with it in out, or -1. */
int tr_path_search(const char *file, const char *path, int (*ok)(const char *), char *out,
                   size_t n);
/* A duration such as "90d", "12h", "30m", "45s", "2w" or a plain number of seconds, in ns;
 * -1 when malformed. */
int64_t tr_parse_duration_ns(const char *s);
/* Whole-file write, created with the given mode; 0 or TRAIL_EIO. */
int tr_write_file(const char *path, const char *data, size_t len, mode_t mode);
/* Reads a small regular file into buf (NUL-terminated); returns length or TRAIL_EIO (also for
 * a FIFO, device or directory: they are refused without blocking). */
long tr_read_file(const char *path, char *buf, size_t n);
/* The same for a file in a directory others may write (a spool): never through a symlink, and
 * owned by uid (< 0: anyone). */
long tr_read_file_owned(const char *path, char *buf, size_t n, int64_t uid);

#endif
