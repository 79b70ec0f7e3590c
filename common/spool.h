/* spool.h - append-only, memory-mapped spool segments: lock-free writers, a tailing reader. */
#ifndef TR_SPOOL_H
#define TR_SPOOL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* A segment file `<dir>/<pid>-<stream>.seg` (see docs/record-format.md):
 *   header (TR_SEG_HDR_SIZE bytes): magic "TRLSEG1\0", u32 version, u32 header size,
 *     u32 capacity, u32 flags (bit 0: closed by its writer), u64 pid, u64 created_ns,
 *     char stream_id[32], char run_id[32], char host[64], u32 tail
 *   frames from TR_SEG_HDR_SIZE, each 8-aligned: u32 state|size, u32 crc32c(body), body
 * A writer reserves a frame by compare-and-swap of its state word from 0 to RESERVED|size
 * (so a reserved frame always states its size), writes crc and body, then stores
 * COMMITTED|size with release order. No syscall and no lock on this path. */

#define TR_SEG_MAGIC "TRLSEG1"
#define TR_SEG_VERSION 1
#define TR_SEG_HDR_SIZE 256
#define TR_SEG_DEFAULT_CAP (8u << 20)
#define TR_SEG_MIN_CAP (64u << 10)
/* A process's first segment: the client starts small and doubles up to its maximum
 * (TRAIL_SEGMENT_SIZE, else TR_SEG_DEFAULT_CAP), so a process that records little pays for
 * little (issue 15: 64 KiB fallocated, not 8 MiB). */
#define TR_SEG_FIRST_CAP (64u << 10)
/* Bytes at the end of every segment that only tr_seg_append (start, end and drop-count records)
 * may use: tr_seg_append_soft stops short of them, so the end of a process is always recorded
 * in the segment that holds its start, even when no new segment can be made. */
#define TR_SEG_RESERVE 2048u
#define TR_SEG_MAX_CAP (1u << 30)
#define TR_FRAME_HDR 8

#define TR_FRAME_COMMITTED 0x80000000u
#define TR_FRAME_RESERVED 0x40000000u
#define TR_FRAME_END 0x20000000u /* no more frames in this segment */
#define TR_FRAME_SIZE_MASK 0x1FFFFFFFu

#define TR_SEG_F_CLOSED 0x1u

/* Header field offsets. */
#define TR_SEG_OFF_VERSION 8
#define TR_SEG_OFF_HDRSIZE 12
#define TR_SEG_OFF_CAP 16
#define TR_SEG_OFF_FLAGS 20
#define TR_SEG_OFF_PID 24
#define TR_SEG_OFF_CREATED 32
#define TR_SEG_OFF_STREAM 40
#define TR_SEG_OFF_RUN 72
#define TR_SEG_OFF_HOST 104
#define TR_SEG_OFF_TAIL 168

typedef struct tr_seg {
    uint8_t *base; /* mapping of the whole file, or of a slot in the run's slab */
    uint32_t cap;
    int sealed;  /* this writer saw (or wrote) the END marker */
    int in_slab; /* a slot of the run's slab: closing marks it, never unmaps */
    char stream_id[33];
    char path[4096];
} tr_seg;

/* The run's slab `<dir>/slab.pool` (see docs/record-format.md): made by `trail run` before CMD
 * starts, fallocated once; each process image claims a slot of it for its first segment instead
 * of creating a file of its own (issue 15: a file per process was most of the cost of starting
 * one under trail). A slot is a segment in every byte (the same header and frames, capacity
 * TR_SLAB_SLOT_CAP); the reader frees it once its records are stored, for a later process.
 *   page 0: magic "TRLSLB1\0", u32 version, u32 slot count, u32 slot size, u32 flags (bit 0:
 *     retired, no more claims), char run_id[32], then from TR_SLAB_OFF_OWNERS a u32 per slot:
 *     the pid that claimed it, 0 when free
 *   slot i at TR_SLAB_HDR_SIZE + i * slot size */
#define TR_SLAB_NAME "slab.pool"
#define TR_SLAB_MAGIC "TRLSLB1"
#define TR_SLAB_VERSION 1
#define TR_SLAB_HDR_SIZE 4096u
#define TR_SLAB_OFF_VERSION 8
#define TR_SLAB_OFF_NSLOTS 12
#define TR_SLAB_OFF_SLOTSZ 16
#define TR_SLAB_OFF_FLAGS 20
#define TR_SLAB_OFF_RUN 24
#define TR_SLAB_OFF_OWNERS 64
#define TR_SLAB_MAX_SLOTS ((TR_SLAB_HDR_SIZE - TR_SLAB_OFF_OWNERS) / 4)
#define TR_SLAB_F_RETIRED 0x1u
#define TR_SLAB_SLOT_CAP (16u << 10)
#define TR_SLAB_SLOTS 512u
#define TR_SLAB_WARM 64u /* slots whose first page tr_slab_create writes */

typedef struct tr_slab {
    uint8_t *base; /* NULL: none mapped */
    size_t size;
    uint32_t nslots, slot_size;
} tr_slab;

/* Makes `<dir>/slab.pool` (0600) for run_id: nslots slots of slot_size bytes (a multiple of
 * 4096), blocks allocated now (a full disk is an error here, never a SIGBUS later). 0 or
 * TRAIL_E*. */
int tr_slab_create(const char *dir, const char *run_id, uint32_t nslots, uint32_t slot_size);
/* Maps dir's slab when it is this run's, a regular file of this user, and not retired: 0, or
 * TRAIL_ENOTFOUND (none, or not usable: the caller makes files) / TRAIL_EINVAL. No descriptor is
 * kept. */
int tr_slab_map(tr_slab *slab, const char *dir, const char *run_id);
void tr_slab_unmap(tr_slab *slab);
/* Claims a free slot of the slab for this process and makes it a segment of run_id:
 * 0, or TRAIL_ENOSPC (every slot taken, or the slab retired). */
int tr_seg_claim(tr_seg *seg, tr_slab *slab, const char *run_id);

/* Creates a segment (written under a temporary name, renamed into place once its header is
 * complete), maps it and closes the descriptor: a writer holds no file descriptor.
 * dir must exist. Returns 0 or TRAIL_EIO / TRAIL_EINVAL. */
int tr_seg_create(tr_seg *seg, const char *dir, const char *run_id, uint32_t cap);
/* Appends one record body. 0, TRAIL_ENOSPC when the segment is full (it is then sealed and
 * the caller moves to a new one), TRAIL_ETOOBIG when the body can never fit. Thread-safe. */
int tr_seg_append(tr_seg *seg, const void *body, size_t len);
/* Like tr_seg_append but leaves the last TR_SEG_RESERVE bytes free, and a record that does not
 * fit leaves the segment open (TRAIL_ENOSPC, not sealed): start and end records may still go
 * in with tr_seg_append. TRAIL_ENOSPC also when the body is too large for this segment but
 * would fit a larger one. */
int tr_seg_append_soft(tr_seg *seg, const void *body, size_t len);
/* Writes the END marker after the last frame: readers finish the segment once its frames are
 * committed. For a writer that moves on to a new segment. */
void tr_seg_seal(tr_seg *seg);
/* Marks the segment closed by its writer (readers may finish it) and unmaps it. */
void tr_seg_close(tr_seg *seg);
/* Unmaps without marking closed (used in a forked child for its parent's segments). */
void tr_seg_forget(tr_seg *seg);
/* Makes written records durable (msync); not needed for readers on the same host. */
int tr_seg_sync(tr_seg *seg);

/* Reader side. One reader tails every segment in one directory. */
typedef struct tr_spool_reader tr_spool_reader;

typedef struct tr_seg_info {
    const char *path;
    const char *stream_id;
    const char *run_id;
    const char *host;
    int64_t pid;
    int64_t uid; /* owner of the run directory: the segment's writer (spool.c refuse) */
} tr_seg_info;

/* Called once per committed record; seq is the frame's offset in its segment. A non-zero
 * return stops the poll (the record counts as not consumed). */
typedef int (*tr_spool_cb)(void *ctx, const tr_seg_info *seg, uint64_t seq, const uint8_t *body,
                           size_t len);

typedef struct tr_spool_stats {
    uint64_t records;       /* delivered to the callback */
    uint64_t torn;          /* reserved by a writer that died before committing: skipped */
    uint64_t corrupt;       /* frames failing size or crc checks: segment abandoned after them */
    uint64_t segments_done; /* segments finished and removed */
    uint64_t refused;       /* segments of another uid or another run: kept, never read */
} tr_spool_stats;

int tr_spool_reader_open(const char *dir, tr_spool_reader **out);
void tr_spool_reader_close(tr_spool_reader *r);
/* Scans the directory for new segments and delivers up to max records (0 = no limit) that
 * are committed and not yet delivered. Returns the number delivered or a TRAIL_E* code. */
long tr_spool_reader_poll(tr_spool_reader *r, tr_spool_cb cb, void *ctx, long max);
/* The records delivered since the last commit are durably stored: remember the positions
 * and remove segments that are finished (closed, or their writer is gone) and fully read. */
int tr_spool_reader_commit(tr_spool_reader *r);
/* The destination refused the segment at path (store/owner.c): it is kept, never read again
 * and never removed by this reader. */
void tr_spool_reader_refuse(tr_spool_reader *r, const char *path);
/* Storing failed: deliver the records since the last commit again on the next poll. */
void tr_spool_reader_rewind(tr_spool_reader *r);
/* Number of segments still open for reading (not finished or not yet removed). */
/* A slab whose every slot is free once nothing else is pending is retired (no more claims: a
 * late process makes files) and removed. */
int tr_spool_reader_pending(tr_spool_reader *r);
/* Number of those segments whose writer is still alive (not closed, process exists). */
int tr_spool_reader_live_writers(tr_spool_reader *r);
void tr_spool_reader_stats(const tr_spool_reader *r, tr_spool_stats *out);

#endif
