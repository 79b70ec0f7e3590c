/* agent_keys.c - traild's per-agent tokens (--agent-tokens): load, check, look up by host. */
#include "agent_keys.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "batch.h"
#include "trail.h"

struct tr_agent_keys {
    tr_agent_key *v;
    int n;
};

void tr_agent_key_fingerprint(const uint8_t *key, size_t len, char fp[24])
{
    static const uint8_t text[48] = "trail token fingerprint, version 1 .............";
    uint8_t mac[TR_BATCH_MAC_LEN];
    fp[0] = 0;
    if (!len || tr_batch_mac(key, len, text, sizeof text, NULL, 0, mac)) return;
    for (int i = 0; i < 8; i++)
        snprintf(fp + 2 * i, 3, "%02x", mac[i]);
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

/* One "HOST SECRET" line into k->v[k->n]; 0, or 1 for a line with nothing on it, or TRAIL_E*
 * with err set. */
static int parse_line(tr_agent_keys *k, const char *line, size_t n, int lineno, const char *path,
                      char *err, size_t errlen)
{
    size_t i = 0;
    while (i < n && is_space(line[i]))
        i++;
    if (i == n || line[i] == '#') return 1;
    size_t h0 = i;
    while (i < n && !is_space(line[i]))
        i++;
    size_t hl = i - h0;
    while (i < n && is_space(line[i]))
        i++;
    size_t s0 = i, sl = n - i;
    while (sl && is_space(line[s0 + sl - 1]))
        sl--;
    tr_agent_key *a = &k->v[k->n];
    if (!sl || hl >= sizeof a->host) {
        snprintf(err, errlen, "%s:%d: expected HOST SECRET", path, lineno);
        return TRAIL_EINVAL;
    }
    if (sl < TR_AGENT_KEY_MIN || sl > TR_AGENT_KEY_MAX) {
        snprintf(err, errlen, "%s:%d: the secret of %.*s must be %d to %d bytes", path, lineno,
                 (int)hl, line + h0, TR_AGENT_KEY_MIN, TR_AGENT_KEY_MAX);
        return TRAIL_EINVAL;
    }
    memset(a, 0, sizeof *a);
    memcpy(a->host, line + h0, hl);
    memcpy(a->key, line + s0, sl);
    a->len = sl;
    for (int j = 0; j < k->n; j++) {
        const tr_agent_key *b = &k->v[j];
        if (!strcasecmp(b->host, a->host) ||
            (b->len == a->len && !memcmp(b->key, a->key, a->len))) {
            snprintf(err, errlen, "%s:%d: %s (each host needs a secret of its own)", path, lineno,
                     strcasecmp(b->host, a->host) ? "the secret of another host again"
                                                  : "the host again");
            return TRAIL_EINVAL;
        }
    }
    tr_agent_key_fingerprint(a->key, a->len, a->fp);
    k->n++;
    return 0;
}

int tr_agent_keys_load(const char *path, const uint8_t *shared, size_t shared_len,
                       tr_agent_keys **out, char *err, size_t errlen)
{
    enum { CAP = 1 << 20 };
    *out = NULL;
    size_t len = 0;
    uint8_t *text = malloc(CAP);
    tr_agent_keys *k = calloc(1, sizeof *k);
    int rc = TRAIL_ENOMEM;
    if (!text || !k || !(k->v = calloc(TR_AGENT_KEYS_MAX, sizeof *k->v))) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    /* the token file rules: a private regular file (or a link to one), never a FIFO */
    if ((rc = tr_batch_load_token(path, text, CAP, &len, err, errlen)) != 0) goto fail;
    const char *p = (const char *)text, *end = p + len;
    for (int lineno = 1; p < end; lineno++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        if (k->n == TR_AGENT_KEYS_MAX) {
            snprintf(err, errlen, "%s: more than %d hosts", path, TR_AGENT_KEYS_MAX);
            rc = TRAIL_ETOOBIG;
            goto fail;
        }
        rc = parse_line(k, p, n, lineno, path, err, errlen);
        if (rc < 0) goto fail;
        if (rc == 0 && shared_len == k->v[k->n - 1].len &&
            !memcmp(shared, k->v[k->n - 1].key, shared_len)) {
            snprintf(err, errlen, "%s:%d: the secret of %s is the shared --token-file's", path,
                     lineno, k->v[k->n - 1].host);
            rc = TRAIL_EINVAL;
            goto fail;
        }
        p += n + (nl != NULL);
    }
    if (!k->n) {
        snprintf(err, errlen, "%s names no host", path);
        rc = TRAIL_EINVAL;
        goto fail;
    }
    memset(text, 0, CAP);
    free(text);
    *out = k;
    return 0;
fail:
    if (text) memset(text, 0, CAP);
    free(text);
    tr_agent_keys_free(k);
    return rc;
}

const tr_agent_key *tr_agent_keys_find(const tr_agent_keys *k, const char *host)
{
    for (int i = 0; k && i < k->n; i++)
        if (!strcasecmp(k->v[i].host, host)) return &k->v[i]; /* host names ignore case */
    return NULL;
}

int tr_agent_keys_count(const tr_agent_keys *k)
{
    return k ? k->n : 0;
}

void tr_agent_keys_free(tr_agent_keys *k)
{
    if (!k) return;
    if (k->v) memset(k->v, 0, (size_t)TR_AGENT_KEYS_MAX * sizeof *k->v);
    free(k->v);
    free(k);
}
