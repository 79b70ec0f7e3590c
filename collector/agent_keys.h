/* agent_keys.h - traild's per-agent tokens: each host proves its name with its own secret. */
#ifndef TR_AGENT_KEYS_H
#define TR_AGENT_KEYS_H

#include <stddef.h>
#include <stdint.h>

#define TR_AGENT_KEY_MAX 512   /* bytes of one secret */
#define TR_AGENT_KEY_MIN 16    /* shorter secrets are refused: guessable */
#define TR_AGENT_KEYS_MAX 4096 /* hosts in one file */

typedef struct tr_agent_key {
    char host[256];
    uint8_t key[TR_AGENT_KEY_MAX];
    size_t len;
    char fp[24]; /* tr_agent_key_fingerprint of key */
} tr_agent_key;

typedef struct tr_agent_keys tr_agent_keys;

/* `traild --agent-tokens FILE`: one agent a line, "HOST SECRET" (the SECRET is what that
 * host's agent has in its --token-file; blank lines and # comments skipped). The file must be
 * private, as a token file (symlinks followed and judged at their target). Refused: a line
 * without both, a host twice, a secret shorter than TR_AGENT_KEY_MIN bytes, one secret for two
 * hosts, a secret equal to shared (the --token-file's, NULL none). err gets one line. */
int tr_agent_keys_load(const char *path, const uint8_t *shared, size_t shared_len,
                       tr_agent_keys **out, char *err, size_t errlen);
/* The key of host, NULL when it has none. */
const tr_agent_key *tr_agent_keys_find(const tr_agent_keys *k, const char *host);
int tr_agent_keys_count(const tr_agent_keys *k);
void tr_agent_keys_free(tr_agent_keys *k);

/* A one-way fingerprint of a token (HMAC-SHA256 keyed by it over a fixed text, 8 bytes in
 * hex): names which token an agent held without storing anything that rebuilds it. "" when
 * len is 0. */
void tr_agent_key_fingerprint(const uint8_t *key, size_t len, char fp[24]);

#endif
