/* env.c - records the environment of a run with secret values redacted before they leave. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "agent.h"
#include "client.h"
#include "record.h"
#include "trail.h"
#include "util.h"

static const char *default_patterns[] = {"TOKEN", "SECRET", "PASSWORD", "PASSWD",  "KEY",
                                         "CREDENTIAL", "AUTH", "COOKIE", "SESSION", NULL};

/* Case-insensitive substring search of pat (length pn) in name (length nn). */
static int contains(const char *name, size_t nn, const char *pat, size_t pn)
{
    if (pn == 0 || pn > nn) return 0;
    for (size_t i = 0; i + pn <= nn; i++)
        if (strncasecmp(name + i, pat, pn) == 0) return 1;
    return 0;
}

int tr_env_is_secret(const char *name, const char *extra)
{
    size_t nn = strcspn(name, "=");
    const char *def = getenv("TRAIL_REDACT_DEFAULTS");
    int use_defaults = !(def && (!strcmp(def, "0") || !strcasecmp(def, "false")));
    if (use_defaults)
        for (int i = 0; default_patterns[i]; i++)
            if (contains(name, nn, default_patterns[i], strlen(default_patterns[i]))) return 1;
    const char *lists[2] = {extra, getenv("TRAIL_REDACT")};
    for (int l = 0; l < 2; l++) {
        const char *p = lists[l];
        while (p && *p) {
            size_t pn = strcspn(p, ",");
            size_t s = 0;
            while (s < pn && isspace((unsigned char)p[s])) s++;
            size_t e = pn;
            while (e > s && isspace((unsigned char)p[e - 1])) e--;
            if (contains(name, nn, p + s, e - s)) return 1;
            p += pn;
            if (*p == ',') p++;
        }
    }
    return 0;
}

int tr_env_record(char **envp, const char *extra, int64_t pid)
{
    int rc = 0;
    for (char **e = envp; e && *e; e++) {
        const char *eq = strchr(*e, '=');
        if (!eq || eq == *e) continue;
        uint8_t buf[TR_REC_MAX_SIZE];
        tr_enc enc;
        tr_enc_init(&enc, buf, sizeof buf, TR_REC_ENV, tr_now_ns());
        tr_enc_strn(&enc, TR_F_KEY, *e, (size_t)(eq - *e));
        tr_enc_i64(&enc, TR_F_PID, pid);
        if (tr_env_is_secret(*e, extra))
            tr_enc_i64(&enc, TR_F_REDACTED, 1); /* the value is never encoded */
        else
            tr_enc_str_trunc(&enc, TR_F_VALUE, eq + 1, strlen(eq + 1), 0);
        long n = tr_enc_finish(&enc);
        int r = n < 0 ? (int)n : tr_client_emit(buf, (size_t)n);
        if (r && !rc) rc = r;
    }
    return rc;
}
