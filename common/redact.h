/* redact.h - the one rule for what of an environment or command line is secret. */
#ifndef TR_REDACT_H
#define TR_REDACT_H

#include <stddef.h>

/* What counts as secret, by name: a variable whose name contains (case-insensitively) one of
 * the default words (TOKEN, SECRET, PASSWORD, PASSWD, KEY, CREDENTIAL, AUTH, COOKIE, SESSION)
 * unless TRAIL_REDACT_DEFAULTS is 0/false, or one of the comma-separated patterns of
 * TRAIL_REDACT and `trail run --redact`. By value (with the defaults): a URL with a password in
 * its userinfo (scheme://user:pass@host), a connection string with a password or key
 * (Password=..., pwd=..., AccountKey=..., sig=...), a well-known token format (GitHub, GitLab,
 * Slack, AWS access key ids, OpenAI/Anthropic/Hugging Face/Google API keys, npm, Stripe, JWTs,
 * PEM private keys). Every function here is allocation-free, reads no global state but what
 * tr_redact_init reads, and may run in the shim. */
typedef struct tr_redact {
    int defaults;         /* the default name words and the value rules apply */
    const char *lists[2]; /* comma-separated name patterns, or NULL */
} tr_redact;

/* Reads TRAIL_REDACT_DEFAULTS and TRAIL_REDACT (getenv) into r; extra is one more list (the
 * launcher's --redact), or NULL. The strings must outlive r. */
void tr_redact_init(tr_redact *r, const char *extra);
/* 1 when a variable named name[0..n) is secret by its name. */
int tr_redact_name(const tr_redact *r, const char *name, size_t n);
/* 1 when v[0..n) holds a secret by the value rules (r->defaults); the first one is
 * v[*at .. *at + *len) (at, len may be NULL): the password of a URL, the value of a pair, the
 * whole token, a PEM key to the end. */
int tr_redact_value(const tr_redact *r, const char *v, size_t n, size_t *at, size_t *len);
/* v[0..n) into out (NUL-terminated, cut to outn - 1 bytes) with every secret the value rules
 * find replaced by "[redacted]": for command-line arguments, where the rest stays readable
 * ("postgres://me:[redacted]@db/x"). Returns the length written. */
size_t tr_redact_copy(const tr_redact *r, const char *v, size_t n, char *out, size_t outn);
/* Command-line arguments, one rule with the environment's: a is secret when the argument
 * before it (prev, may be NULL) is a long flag whose name is secret by tr_redact_name
 * ("--password", "--api-key"), when a is "--NAME=VALUE" with such a name, or when a holds a
 * secret by value. 1 when it does. */
int tr_redact_arg(const tr_redact *r, const char *prev, const char *a, size_t n);
/* a[0..n) into out as it may be recorded (NUL-terminated, cut to outn - 1 bytes): the value of a
 * secret flag as "[redacted]" ("--password=[redacted]"), else as tr_redact_copy. Returns the
 * length written. */
size_t tr_redact_arg_copy(const tr_redact *r, const char *prev, const char *a, size_t n, char *out,
                          size_t outn);
/* 1 when the environment entry "NAME=VALUE" (or a bare NAME) is secret by name or value. */
int tr_redact_env(const tr_redact *r, const char *entry);

#endif
