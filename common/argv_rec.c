/* argv_rec.c - start records that always fit a frame: argv redacted and cut field by field. */
#include "argv_rec.h"

#include <string.h>

/* Bytes a string field may still hold, leaving keep bytes of the record free. */
static size_t room(const tr_enc *e, size_t keep)
{
    size_t limit = e->cap < TR_REC_MAX_SIZE ? e->cap : TR_REC_MAX_SIZE;
    size_t used = e->len + TR_FIELD_HDR_SIZE + keep;
    if (e->err || e->nfields >= TR_REC_MAX_FIELDS || used >= limit) return 0;
    return limit - used;
}

uint64_t tr_enc_str_fit(tr_enc *e, uint16_t id, const char *s, size_t max, size_t keep)
{
    if (!s) return 0;
    size_t n = strlen(s), r = room(e, keep), k = n < max ? n : max;
    if (r == 0) return n;
    if (k > r) k = r;
    tr_enc_strn(e, id, s, k);
    return n - k;
}

/* One argument as recorded: a itself, or its redacted copy in scratch. */
static const char *recorded(const tr_redact *r, const char *prev, const char *a, size_t *n,
                            char *scratch, size_t scratchn, uint64_t *cut)
{
    *n = strlen(a);
    if (!r || !tr_redact_arg(r, prev, a, *n)) return a;
    size_t w = tr_redact_arg_copy(r, prev, a, *n, scratch, scratchn);
    if (w + 1 >= scratchn) *cut += 1; /* cut to the scratch buffer: at least a byte lost */
    *n = w;
    return scratch;
}

uint64_t tr_enc_argv(tr_enc *e, const tr_redact *r, char *const *argv, int max_fields, size_t keep,
                     char *scratch, size_t scratchn)
{
    uint64_t cut = 0;
    int argc = 0;
    while (argv && argv[argc])
        argc++;
    if (max_fields < 1 || !scratch || scratchn < 2) return 0;
    int k = 0;
    for (; k < argc && (k < max_fields - 1 || argc == max_fields); k++) {
        size_t n;
        const char *a = recorded(r, k ? argv[k - 1] : NULL, argv[k], &n, scratch, scratchn, &cut);
        size_t fit = room(e, keep);
        if (n > fit) {
            cut += n - fit;
            n = fit;
        }
        if (fit) tr_enc_strn(e, TR_F_ARGV, a, n);
    }
    if (k >= argc) return cut;
    /* the rest in one field, space-separated, built at the end of scratch: each argument is
     * redacted into its beginning first (half of it), then appended */
    size_t half = scratchn / 2, o = 0, cap = scratchn - half;
    char *joined = scratch + half;
    for (int i = k; i < argc; i++) {
        size_t n;
        const char *a = recorded(r, argv[i - 1], argv[i], &n, scratch, half, &cut);
        size_t need = n + (o ? 1 : 0);
        if (o + need >= cap) {
            cut += need;
            continue;
        }
        if (o) joined[o++] = ' ';
        memcpy(joined + o, a, n);
        o += n;
    }
    size_t fit = room(e, keep);
    if (o > fit) {
        cut += o - fit;
        o = fit;
    }
    if (fit) tr_enc_strn(e, TR_F_ARGV, joined, o);
    return cut;
}
