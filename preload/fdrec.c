/* fdrec.c - the FILE and FILE_OPEN records of an open description (fdtable.c, fdagg.c). */
#include <fcntl.h>
#include <string.h>

#include "client.h"
#include "fdslot.h"

int fp_same(const fingerprint *a, const fingerprint *b)
{
    return a->ino == b->ino && a->size == b->size && a->mtime_ns == b->mtime_ns;
}

/* One FILE record of a description: its role, the fingerprint of that role's version and the
 * bytes moved in that role; end_ns and opens (> 1) for an aggregate of repeated opens. */
void fd_emit_file(const slot *s, const char *role, const fingerprint *f, uint64_t rd, uint64_t wr,
                  int64_t end_ns, int64_t opens)
{
    if (f && !S_ISREG(f->mode)) return; /* a fifo or device opened for writing */
    uint8_t buf[4096 + 512];
    tr_enc e;
    shim_enc_begin(&e, buf, sizeof buf, TR_REC_FILE);
    tr_enc_strn(&e, TR_F_PATH, fd_slot_path(s), s->pathlen);
    tr_enc_i64(&e, TR_F_FLAGS, s->flags);
    /* the store derives the role from the byte counts; say it only where that would differ */
    const char *derived = wr ? (rd ? "inout" : "output") : "input";
    if (strcmp(role, derived) != 0) tr_enc_str(&e, TR_F_ROLE, role);
    tr_enc_u64(&e, TR_F_BYTES_READ, rd);
    if (wr) tr_enc_u64(&e, TR_F_BYTES_WRITTEN, wr);
    if (s->bits & B_MMAP) tr_enc_i64(&e, TR_F_MMAP, 1);
    tr_enc_i64(&e, TR_F_START_NS, s->start_ns);
    if (end_ns) tr_enc_i64(&e, TR_F_END_NS, end_ns);
    if (opens > 1) tr_enc_i64(&e, TR_F_OPENS, opens);
    tr_enc_i64(&e, TR_F_SEQ, shim_seq());
    if (s->oseq) tr_enc_i64(&e, TR_F_OPEN_SEQ, s->oseq);
    if (f) {
        tr_enc_u64(&e, TR_F_DEV, f->dev);
        tr_enc_u64(&e, TR_F_INO, f->ino);
        tr_enc_i64(&e, TR_F_SIZE, f->size);
        tr_enc_i64(&e, TR_F_MTIME_NS, f->mtime_ns);
    }
    if (s->bits & B_ADOPTED) tr_enc_str(&e, TR_F_KIND, "inherited");
    tr_enc_str(&e, TR_F_SOURCE, "shim");
    shim_emit(&e);
}

/* FILE_OPEN: written when tracking starts, so that a description of a process killed before
 * its close (SIGKILL, an unhandled SIGTERM) is still known; the FILE of its close settles it.
 * An append to the mapped segment, no system call. */
int64_t fd_emit_open(slot *s, int64_t open_size)
{
    uint8_t buf[4096 + 256];
    tr_enc e;
    int64_t seq = shim_seq();
    tr_enc_init(&e, buf, sizeof buf, TR_REC_FILE_OPEN, s->start_ns);
    tr_enc_strn(&e, TR_F_PATH, fd_slot_path(s), s->pathlen);
    tr_enc_i64(&e, TR_F_FLAGS, s->flags);
    tr_enc_i64(&e, TR_F_SEQ, seq);
    tr_enc_i64(&e, TR_F_START_NS, s->start_ns);
    if (s->bits & B_OPENFP) {
        tr_enc_u64(&e, TR_F_DEV, s->fp.dev);
        tr_enc_u64(&e, TR_F_INO, s->fp.ino);
        tr_enc_i64(&e, TR_F_SIZE, s->fp.size);
        tr_enc_i64(&e, TR_F_MTIME_NS, s->fp.mtime_ns);
    }
    if (open_size >= 0) tr_enc_i64(&e, TR_F_OPEN_SIZE, open_size);
    if (s->bits & B_ADOPTED) tr_enc_str(&e, TR_F_KIND, "inherited");
    if (tr_enc_finish(&e) <= 0) return 0;
    SHIM_ENTER();
    int rc = tr_client_emit(e.buf, e.len);
    SHIM_LEAVE();
    return rc == 0 ? seq : 0; /* not written: nothing to settle */
}
