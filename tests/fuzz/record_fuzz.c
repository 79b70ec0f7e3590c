/* record_fuzz.c - fuzz target: record decoder and accessors, spool reader over a segment file. */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "record.h"
#include "spool.h"
#include "trail.h"

static volatile uint64_t sink; /* keeps the reads of field data from being optimized away */
static uint64_t decoded, spooled, torn, corrupt; /* reported by the replay main */

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "record_fuzz: invariant broken: %s\n", #c);                            \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static void use_record(const uint8_t *d, size_t n, const tr_rec *r)
{
    CHECK(r->version == TR_REC_VERSION && r->body_len == n && r->nfields <= TR_REC_MAX_FIELDS);
    uint64_t acc = 0;
    for (int i = 0; i < r->nfields; i++) {
        const tr_field *f = &r->fields[i];
        CHECK(f->data >= d && f->len <= n && f->data + f->len <= d + n);
        CHECK(f->kind >= TR_K_U64 && f->kind <= TR_K_BYTES);
        for (uint32_t k = 0; k < f->len; k++)
            acc += f->data[k];
        uint64_t u;
        int64_t s;
        double x;
        const char *p;
        size_t pn;
        char small[8], one[1];
        if (tr_rec_get_u64(r, f->id, &u) == 0) acc += u;
        if (tr_rec_get_i64(r, f->id, &s) == 0) acc += (uint64_t)s;
        if (tr_rec_get_f64(r, f->id, &x) == 0) acc += (uint64_t)(x == x);
        if (tr_rec_get_str(r, f->id, &p, &pn) == 0) {
            CHECK((const uint8_t *)p >= d && (const uint8_t *)p + pn <= d + n);
            if (pn) acc += (uint8_t)p[pn - 1];
        }
        if (tr_rec_copy_str(r, f->id, small, sizeof small) == 0) acc += strlen(small);
        if (tr_rec_copy_str(r, f->id, one, sizeof one) == 0) CHECK(one[0] == 0);
        (void)tr_rec_copy_str(r, f->id, small, 0);
    }
    uint64_t u;
    const char *p;
    size_t pn;
    CHECK(tr_rec_get_u64(r, 0, &u) == TRAIL_ENOTFOUND);
    CHECK(tr_rec_get_str(r, 0, &p, &pn) == TRAIL_ENOTFOUND);
    acc += strlen(tr_rec_type_name(r->type));
    sink += acc;
}

static void fuzz_record(const uint8_t *d, size_t n)
{
    tr_rec r;
    if (tr_rec_decode(d, n, &r) == 0) {
        decoded++;
        use_record(d, n, &r);
    }
}

static char seg_dir[4096], seg_path[4200], seg_kept[4300];

static void cleanup(void)
{
    if (!seg_dir[0]) return;
    unlink(seg_path);
    unlink(seg_kept);
    rmdir(seg_dir);
}

static int on_record(void *ctx, const tr_seg_info *si, uint64_t seq, const uint8_t *b, size_t len)
{
    (void)ctx;
    CHECK(seq >= TR_SEG_HDR_SIZE && len >= TR_REC_HDR_SIZE);
    sink += strlen(si->path) + strlen(si->stream_id) + strlen(si->run_id) + strlen(si->host);
    spooled++;
    fuzz_record(b, len);
    return 0;
}

static void fuzz_segment(const uint8_t *d, size_t n)
{
    if (!seg_dir[0]) {
        const char *t = getenv("TMPDIR");
        snprintf(seg_dir, sizeof seg_dir, "%s/trail-fuzz-XXXXXX", t && *t ? t : "/tmp");
        if (!mkdtemp(seg_dir)) {
            perror("mkdtemp");
            abort();
        }
        snprintf(seg_path, sizeof seg_path, "%s/x.seg", seg_dir);
        snprintf(seg_kept, sizeof seg_kept, "%s.corrupt", seg_path);
        atexit(cleanup);
    }
    int fd = open(seg_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) abort();
    for (size_t off = 0; off < n;) {
        ssize_t w = write(fd, d + off, n - off);
        if (w <= 0) abort();
        off += (size_t)w;
    }
    close(fd);
    tr_spool_reader *r;
    if (tr_spool_reader_open(seg_dir, &r) != 0) abort();
    long got = tr_spool_reader_poll(r, on_record, NULL, 0);
    CHECK(got >= 0);
    tr_spool_reader_rewind(r);
    CHECK(tr_spool_reader_poll(r, on_record, NULL, 2) <= 2);
    tr_spool_reader_commit(r);
    CHECK(tr_spool_reader_pending(r) >= 0 && tr_spool_reader_live_writers(r) >= 0);
    tr_spool_stats st;
    tr_spool_reader_stats(r, &st);
    torn += st.torn;
    corrupt += st.corrupt;
    sink += st.records + st.segments_done;
    tr_spool_reader_close(r);
    unlink(seg_path);
    unlink(seg_kept);
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
    fuzz_record(d, n);
    fuzz_segment(d, n);
    return 0;
}

#ifndef TRAIL_LIBFUZZER
#include "replay.h"

/* Replays every file in the corpus directories (or files) named on the command line. */
int main(int argc, char **argv)
{
    long files = 0, errors = fuzz_replay_all(argc, argv, &files);
    fprintf(stderr,
            "record_fuzz: replayed %ld inputs, %ld errors; %llu records decoded, %llu spool "
            "records delivered, %llu torn, %llu corrupt\n",
            files, errors, (unsigned long long)decoded, (unsigned long long)spooled,
            (unsigned long long)torn, (unsigned long long)corrupt);
    return files > 0 && errors == 0 ? 0 : 1;
}
#endif
