/* store.h - the SQLite store: open/migrate, idempotent ingest of records, and queries. */
#ifndef TR_STORE_H
#define TR_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "record.h"

struct cJSON;

/* One open store; use it from one thread at a time. */
typedef struct tr_store tr_store;

/* Where a record came from. (id, seq) identifies a record exactly once: id is the spool
 * segment's 128-bit stream id in hex, seq the record's offset in that stream (strictly
 * increasing within a stream). Every record of a stream belongs to run_id. */
typedef struct tr_stream {
    char id[33];
    char run_id[33];
    int64_t pid;
    char host[256];
    /* Who delivered it (store/owner.c): the uid owning the spool directory it was read from
     * (has_uid), and for traild the agent's host and token fingerprint ("" when unknown). A
     * run takes the owner and agent host of its first stream; other streams are refused. */
    int has_uid;
    int64_t uid;
    char agent_host[256];
    char agent_token[24];
} tr_stream;

#define TR_STORE_CREATE 0x1   /* create the file (and its directory, 0700) if missing */
#define TR_STORE_READONLY 0x2 /* queries only */

/* Opens (and migrates) the store at path. On failure *out is NULL and err holds one line
 * naming the file and the reason (corrupt, locked, newer schema version, not a trail store).
 * Files are created 0600. Returns 0 or TRAIL_E* (TRAIL_ECORRUPT, TRAIL_EBUSY, TRAIL_EVERSION,
 * TRAIL_ESTORE, TRAIL_EIO, TRAIL_ENOTFOUND when missing without TR_STORE_CREATE). */
int tr_store_open(const char *path, int flags, tr_store **out, char *err, size_t errlen);
void tr_store_close(tr_store *s);
/* One line describing the last error, naming the file. */
const char *tr_store_errmsg(const tr_store *s);
const char *tr_store_path(const tr_store *s);
int tr_store_schema_version(tr_store *s);

/* Batched transactions: ingest many records between begin and commit. */
int tr_store_begin(tr_store *s);
int tr_store_commit(tr_store *s);
int tr_store_rollback(tr_store *s);
/* A read snapshot outside a transaction: look-ups until tr_store_read_end see one state of the
 * store and take its read lock once, not once per statement (a series of look-ups between
 * batches). Nothing is written inside it; tr_store_begin ends it first. 0 or TRAIL_E*. */
int tr_store_read_begin(tr_store *s);
void tr_store_read_end(tr_store *s);

/* Highest seq stored for a stream, or -1 when the stream is unknown. */
int tr_store_stream_hwm(tr_store *s, const char *stream_id, int64_t *hwm);
/* Stores one record (inside a transaction or alone). Returns 0 when stored, 1 when
 * (stream, seq) was already stored (nothing changes), TR_INGEST_REFUSED when its stream may
 * not join the run (another owner uid or agent host than the run's: nothing stored,
 * tr_store_errmsg says why), or a negative TRAIL_E* code.
 * Records of unknown types are counted and skipped (return 0). After a negative return inside
 * tr_store_begin .. commit, the batch is spoiled: commit rolls it back and fails. */
int tr_store_ingest(tr_store *s, const tr_stream *st, uint64_t seq, const tr_rec *rec);
#define TR_INGEST_REFUSED 2

/* A batch's look-ups made ahead of it, inside its transaction (optional; ingest_prefetch.c):
 * note each record the batch holds, then run the notes before the batch's first
 * tr_store_ingest. Its FILE records' artifact and version ids then cost a statement per 64
 * and 32 of them instead of one or two each: on a PostgreSQL store, a few round trips a batch.
 * A failed run spoils the transaction as a failed ingest does. */
int tr_store_prefetch_note(tr_store *s, const tr_stream *st, uint64_t seq, const tr_rec *rec);
/* The same, new streams' records too: for a caller that rolls the whole batch back when the
 * store refuses a stream (TR_INGEST_REFUSED), so that what was added for them goes with it. */
int tr_store_prefetch_note_all(tr_store *s, const tr_stream *st, uint64_t seq, const tr_rec *rec);
int tr_store_prefetch_run(tr_store *s);
/* Round trips to the database server so far (-1 for SQLite): what tests and benchmarks count. */
int64_t tr_store_round_trips(tr_store *s);

/* RUN is a full id, a unique id prefix, or a run name (the latest run of that name).
 * Writes the 32-char id. TRAIL_ENOTFOUND or TRAIL_EAMBIGUOUS otherwise. */
int tr_store_resolve_run(tr_store *s, const char *ref, char id_out[33]);

struct tr_where;

typedef struct tr_runs_filter {
    const char *experiment;       /* NULL = all */
    int limit;                    /* 0 = no limit */
    const struct tr_where *where; /* NULL = all; see where.h */
} tr_runs_filter;

/* JSON documents (design.md "Public surface"); caller frees with cJSON_Delete. */
int tr_store_run_json(tr_store *s, const char *run_id, struct cJSON **out);
int tr_store_runs_json(tr_store *s, const tr_runs_filter *f, struct cJSON **out);
int tr_store_metrics_json(tr_store *s, const char *run_id, struct cJSON **out);
/* tr_store_run_json with flags: TR_RUN_ALL_FILES keeps the run's temporaries (files it wrote
 * and removed) in outputs and its reads of its own output in inputs, marked "temporary". */
#define TR_RUN_ALL_FILES 0x1
/* TR_RUN_NO_FILES leaves the inputs and outputs lists out (listings: `trail runs`). */
#define TR_RUN_NO_FILES 0x2
int tr_store_run_json_ex(tr_store *s, const char *run_id, int flags, struct cJSON **out);
/* The runs of f, newest first, one document at a time: fn(arg, run) gets each (it may keep it,
 * setting the pointer to NULL; else it is freed after the call), so memory does not grow with
 * the store. flags as tr_store_run_json_ex. A nonzero return of fn stops the listing and is
 * returned. *more (may be NULL): how many runs past f->limit there are, -1 when there are some
 * but counting them would mean running a --where filter over the whole store, else 0. */
int tr_store_runs_each(tr_store *s, const tr_runs_filter *f, int flags,
                       int (*fn)(void *arg, struct cJSON **run), void *arg, int64_t *more);

/* ---- Lineage (collector/lineage.c, lineage_graph.c) ---- */

/* A file fingerprint as captured at open (reads) or close (writes). */
typedef struct tr_fingerprint {
    uint64_t dev, ino;
    int64_t size, mtime_ns;
} tr_fingerprint;

/* The artifact key of an absolute path as recorded on host: node-local paths (/tmp, /var/tmp,
 * /dev/shm, /run, and the colon-separated prefixes in $TRAIL_NODE_LOCAL) become "host:/path";
 * any other path is shared (the same file on every host) and is its own key. */
int tr_store_artifact_key(const char *path, const char *host, char *out, size_t n);
/* Splits a key into the display path and host ("" for shared paths). */
const char *tr_store_key_path(const char *key, char *host, size_t hostlen);

/* The version a content hash would belong to: the version of key with fingerprint fp (dev
 * ignored), or the latest version when fp is NULL. TRAIL_ENOTFOUND when there is none. */
typedef struct tr_hash_target {
    int64_t version;
    tr_fingerprint fp;
    int has_fp, has_hash;
} tr_hash_target;
int tr_store_hash_target(tr_store *s, const char *key, const tr_fingerprint *fp,
                         tr_hash_target *out);
/* Records the content hash (lowercase hex) of a version, carries it to the versions a rename
 * or link made of the same bytes, and links versions nobody wrote to a written version of
 * identical content (origin "hash"). */
int tr_store_set_content_hash(tr_store *s, int64_t version, const char *hex);
/* The same for the version of key with fingerprint fp (dev ignored), found and read in one
 * statement: 1 when there is no such version or it has a hash already. */
int tr_store_hash_version(tr_store *s, const char *key, const tr_fingerprint *fp, const char *hex);
/* 1 when the version of key with fingerprint fp (dev ignored) has a hash; a version the last
 * committed transaction added for a new artifact has none, and is answered without a look-up
 * (ingest_fresh.c). */
int tr_store_hash_known(tr_store *s, const char *key, const tr_fingerprint *fp);

/* A file target: key (from tr_store_artifact_key, or the plain path) and a version spec:
 * NULL = the latest, "vN" = the N-th version (1-based, as `trail show PATH` numbers them), or a
 * prefix (4+ hex characters) of the version string. Writes the version id and the key found. */
int tr_store_resolve_file(tr_store *s, const char *key, const char *spec, int64_t *version,
                          char *key_out, size_t keylen);
/* The version string: the content hash when known, else tr_store_version_id of the fingerprint;
 * "" when the version has no fingerprint. */
void tr_store_version_string(const char *hash, int has_fp, const tr_fingerprint *fp, char *out,
                             size_t n);

#define TR_LINEAGE_UP 0x1
#define TR_LINEAGE_DOWN 0x2
/* The lineage subgraph around a run (run_id) or a file version (run_id NULL): {"nodes":[{"id",
 * "kind","label", and detail: "run", "name", "status", "path", "host", "version", "depth",
 * "temporary"}], "edges":[{"from","to","kind":"input"|"output"}], "root": id}. depth counts
 * edges from the target (<= 0: unlimited). */
int tr_store_lineage_json(tr_store *s, const char *run_id, int64_t version, int dirs, int depth,
                          struct cJSON **out);
/* A file: {"path","host","key","versions":[{"n","id","version","hash","size","mtime",
 * "origin":{"kind","version"},"removed":{"op","run"},"written_by":[...],"read_by":[...]}]}. */
int tr_store_file_json(tr_store *s, const char *key, struct cJSON **out);

/* ---- Dependencies resolved by the agent, and the run tags it derives (collector/deps.c) ---- */

/* What a dependency resolved to; NULL or "" fields are stored as NULL. source: dpkg (a Debian
 * package), python (a distribution's metadata), git (a source tree), path (read off the path). */
typedef struct tr_dep_info {
    const char *package, *version, *source;
} tr_dep_info;
/* Sets package, version and source on the run's rows of a path the shim recorded (so, dlopen,
 * exe) that are not resolved yet. */
int tr_store_dep_resolve(tr_store *s, const char *run_id, const char *path, const tr_dep_info *d);
/* Adds or replaces a run-level dependency found by the agent: kind python (a distribution;
 * path its metadata directory), interpreter (path the executable), git (path the work tree). */
int tr_store_dep_add(tr_store *s, const char *run_id, const char *path, const char *kind,
                     const tr_dep_info *d);
/* The agent's cache of path -> Debian package answers, valid for one state (stamp) of the dpkg
 * database: get copies package and version ("" package: the path belongs to none) and returns
 * 0, or TRAIL_ENOTFOUND when nothing is cached for that stamp; put records an answer. */
int tr_store_dep_cache_get(tr_store *s, const char *path, const char *stamp, char *package,
                           size_t pn, char *version, size_t vn);
int tr_store_dep_cache_put(tr_store *s, const char *path, const char *stamp, const char *package,
                           const char *version);
/* A run tag: tr_store_tag_get copies its value (0) or returns TRAIL_ENOTFOUND; set replaces. */
int tr_store_tag_get(tr_store *s, const char *run_id, const char *key, char *out, size_t n);
int tr_store_tag_set(tr_store *s, const char *run_id, const char *key, const char *value);
/* The run's working directory as launched ("" and 0 when unknown; TRAIL_ENOTFOUND: no run). */
int tr_store_run_cwd(tr_store *s, const char *run_id, char *out, size_t n);

/* Formats ns since the epoch as RFC 3339 UTC with microseconds: 2026-11-28T06:13:59.123456Z */
void tr_store_fmt_time(int64_t ns, char *buf, size_t n);

/* Records skipped since open: unknown types, or a known type missing a required field. */
int64_t tr_store_skipped(const tr_store *s);
/* The version string of a file fingerprint: 16 lowercase hex characters of FNV-1a 64 over
 * the decimal text "dev:ino:size:mtime_ns" (used where no content hash is known). */
void tr_store_version_id(uint64_t dev, uint64_t ino, int64_t size, int64_t mtime_ns, char out[17]);

/* ---- Views for the query surfaces: pruned lineage, diff, directory folding (lineage_prune.c,
 * diff.c, fold.c) ---- */

/* 1 for files of the system (/usr, /lib, /etc, /proc, /dev ...: interpreters, libraries,
 * caches) that lineage and diff leave out unless asked for all. */
int tr_store_is_system_path(const char *path);

/* What tr_store_lineage_view shows: dirs TR_LINEAGE_UP and/or TR_LINEAGE_DOWN (0: both), depth
 * in edges (<= 0: unlimited), files 1 to keep every file (no folding), all 1 to keep temporaries
 * and system files. */
typedef struct tr_lineage_view_opts {
    int dirs, depth, files, all;
} tr_lineage_view_opts;
/* tr_store_lineage_json, then pruned (temporaries and system files dropped unless all, and what
 * is then no longer connected to the root) and folded (a directory's files into one node
 * {"id":"dir:DIR/","kind":"file","label":"DIR/ (N files)","path":DIR,"files":N} unless files). */
int tr_store_lineage_view(tr_store *s, const char *run_id, int64_t version,
                          const tr_lineage_view_opts *o, struct cJSON **out);

/* tr_store_diff_json with TR_DIFF_ALL compares system files too. */
#define TR_DIFF_ALL 0x1
/* What differs between two runs (full ids), likely causes first: {"a":{"id","name"},"b":{...},
 * "identical":bool,"changes":[{"section","kind":"changed"|"added"|"removed","name","a","b", and
 * "delta","relative" for numbers, "files":N for a folded directory (name "DIR/")}]}. Sections in
 * order: inputs, code, command, params, deps, env, tags, exit, metrics, outputs. */
int tr_store_diff_json(tr_store *s, const char *run_a, const char *run_b, int flags,
                       struct cJSON **out);

/* Files of one kind in one directory at which they fold into one entry, "DIR/ (N files)": one
 * threshold for lineage graphs, diffs and `trail show`. */
#define TR_FOLD_MIN 8
/* Which entries of a list fold. Entry i is named names[i] ("host:/a/b/c"; NULL or without '/':
 * it never folds) and of kind kinds[i] (kinds NULL: all of one kind); entries of one kind whose
 * names share the directory ("host:/a/b"; "" for the root) form a group. */
typedef struct tr_fold {
    int n, ngroups;
    int *group; /* per entry: its group, or -1 */
    int *count; /* per group: how many entries */
    int *first; /* per group: its first entry */
    char **dir; /* per group: the directory, without the trailing '/' */
} tr_fold;
/* Fills f (free with tr_fold_free); 0 or TRAIL_ENOMEM. */
int tr_fold_plan(tr_fold *f, int n, const char *const *names, const char *const *kinds);
/* The group entry i folds into (one of TR_FOLD_MIN or more entries), or -1: it stays. */
int tr_fold_at(const tr_fold *f, int i);
void tr_fold_free(tr_fold *f);

/* ---- Views for the HTTP API and the web page (page.c, series.c, console_view.c) ---- */

#define TR_PAGE_DEFAULT 100 /* runs per page unless asked */
#define TR_PAGE_MAX 1000
/* One page of the runs listing. order_by: "KEY", "KEY asc", "KEY desc" or "-KEY" (descending)
 * with KEY one of started (the default, descending), ended, duration, name, id, status,
 * experiment, exit_code, host, user, params.K, tags.K, metrics.K (the last value); a key sorts
 * as a number when it reads as one, runs without it last. page_token: the next_page_token of the
 * page before (NULL: the first page). */
typedef struct tr_runs_page {
    const char *experiment;       /* NULL = all */
    const struct tr_where *where; /* NULL = all */
    const char *order_by;
    int limit; /* 1..TR_PAGE_MAX; 0 = TR_PAGE_DEFAULT */
    const char *page_token;
} tr_runs_page;
/* {"runs":[run documents without inputs, outputs, env, processes, deps],"next_page_token":
 * string|null,"prev_page_token":string|null (the page before; null on the first),"total":N
 * (runs matching),"offset","limit"}. TRAIL_EINVAL (message in the store)
 * for a bad order_by, page_token or limit. */
int tr_store_runs_page_json(tr_store *s, const tr_runs_page *p, struct cJSON **out);
/* {"experiments":[{"name" (null: runs without one),"runs","running","failed","latest"}]},
 * latest started first. */
int tr_store_experiments_json(tr_store *s, struct cJSON **out);

#define TR_SERIES_DEFAULT 1000 /* points per key unless asked */
#define TR_SERIES_MAX 1000000
/* Which points of a run's metrics: steps step_min..step_max (has_min/has_max: bounded), at most
 * max_points per key (0: TR_SERIES_DEFAULT). */
typedef struct tr_series_opts {
    int max_points;
    int has_min, has_max;
    int64_t step_min, step_max;
} tr_series_opts;
/* {"run","max_points","metrics":{KEY:[{"step","value","time","source"}]} (the shape of
 * tr_store_metrics_json), "series":{KEY:{"total":points in the range,"downsampled":bool}}} for
 * keys[0..nkeys) (keys NULL: every key of the run; an unknown key gives []). A key with more
 * points in the range than max_points is downsampled: the points but the last fall into
 * (max_points - 1) / 2 buckets of equal count, each giving its minimum and maximum point in the
 * order logged (one when they are the same; its first point when it holds no finite value),
 * and the last point follows. So at most max_points points, with the true minimum and maximum of
 * the range and its last point. A step range holding at most max_points points comes at full
 * resolution. */
int tr_store_series_json(tr_store *s, const char *run_id, const char *const *keys, int nkeys,
                         const tr_series_opts *o, struct cJSON **out);
/* The last `lines` lines kept of one console stream (at most TR_CONSOLE_API_BYTES):
 * {"run","stream","text","cut":bool (earlier output left out)}; text "" when none was kept. */
#define TR_CONSOLE_API_BYTES (1 << 20)
int tr_store_console_lines_json(tr_store *s, const char *run_id, const char *stream, int lines,
                                struct cJSON **out);

/* ---- Managing what is stored (store/manage.c) ---- */

/* What a change removed (with dry_run: would remove; nothing is written then). */
typedef struct tr_manage_report {
    int64_t runs, rows, versions, artifacts;
} tr_manage_report;
/* Removes runs (full ids) and every row of theirs (any table with a run_id column), then the
 * file versions and artifacts no other run refers to; deleted pages are zeroed. */
int tr_store_rm_runs(tr_store *s, const char *const *ids, int n, int dry_run,
                     tr_manage_report *rep);
/* Runs that ended (or started, when they never ended) before before_ns and are not running,
 * whose status is in the comma-separated list (NULL or "": any), oldest first; at most max. */
int tr_store_gc_select(tr_store *s, int64_t before_ns, const char *statuses, char (*ids)[33],
                       int max, int *n);
/* Every record of one file (key as tr_store_artifact_key gives it): its versions, reads, writes
 * and operations, its dependency rows (on the key's host), and each argument naming it (the path,
 * a relative form of it against the process's cwd, or --flag=PATH) in the command lines of the
 * runs that knew it. Each such run keeps the tag trail.forgotten (a count, never the path).
 * rep->runs: runs noted. */
int tr_store_forget(tr_store *s, const char *key, int dry_run, tr_manage_report *rep);
int tr_store_rename_run(tr_store *s, const char *run_id, const char *name);
/* Sets the status of a run still running or lost (any run with force), its end now_ns unless
 * it has one; was gets the status it had. */
int tr_store_close_run(tr_store *s, const char *run_id, const char *status, int64_t now_ns,
                       int force, char *was, size_t wn);
/* Rewrites the file without free pages (VACUUM) and truncates the WAL, so removed data is gone
 * from disk; *before / *after: bytes of the store file and its WAL. */
int tr_store_reclaim(tr_store *s, int64_t *before, int64_t *after);

/* ---- OpenLineage (store/openlineage.c) ---- */

/* The run's RunEvents (spec 2-0-2) as a JSON array: START (its inputs) and COMPLETE, FAIL or
 * ABORT (inputs, outputs, errorMessage) for the run, then START and end for each process as a
 * child run (parent facet). Env files are left out of the datasets unless all_files. runIds
 * are UUIDv7 made from the start time and the trail id: the same on every export. */
int tr_store_openlineage_json(tr_store *s, const char *run_id, int all_files, struct cJSON **out);
/* A UUIDv7 for ms since the epoch, its other bits a hash of seed and salt (deterministic). */
void tr_store_uuid7(int64_t ms, const char *seed, uint64_t salt, char out[37]);

/* ---- trail store copy (copy.c) ---- */
/* Called after each committed batch: the table and how many of its rows are copied so far. */
typedef void (*tr_store_copy_fn)(void *arg, const char *table, int64_t copied);
/* Copies every table of src (opened read-only) into dst (created and migrated, empty, of the
 * same schema version; any backend into any other), `batch` rows a transaction. Resumable:
 * the progress is committed with the rows into dst, so running it again goes on where it
 * stopped. Then counts the rows of every table on both sides: *report = {"source","target",
 * "resumed","tables":[{"table","source_rows","target_rows","copied"}],"verified"}; 0 when
 * every count agrees, TRAIL_ESTORE (report set too) when one does not. */
int tr_store_copy(tr_store *src, tr_store *dst, int batch, tr_store_copy_fn fn, void *arg,
                  struct cJSON **report);

#endif
