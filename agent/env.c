/* env.c - records the environment of a run with secret values redacted before they leave. */
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "client.h"
#include "record.h"
#include "redact.h"
#include "trail.h"
#include "util.h"

int tr_env_record(char **envp, const char *extra, int64_t pid)
{
    int rc = 0;
    tr_redact r;
    tr_redact_init(&r, extra);
    for (char **e = envp; e && *e; e++) {
        const char *eq = strchr(*e, '=');
        if (!eq || eq == *e) continue;
        uint8_t buf[TR_REC_MAX_SIZE];
        tr_enc enc;
        tr_enc_init(&enc, buf, sizeof buf, TR_REC_ENV, tr_now_ns());
        tr_enc_strn(&enc, TR_F_KEY, *e, (size_t)(eq - *e));
        tr_enc_i64(&enc, TR_F_PID, pid);
        if (tr_redact_env(&r, *e))
            tr_enc_i64(&enc, TR_F_REDACTED, 1); /* the value is never encoded */
        else
            tr_enc_str_trunc(&enc, TR_F_VALUE, eq + 1, strlen(eq + 1), 0);
        long n = tr_enc_finish(&enc);
        int r = n < 0 ? (int)n : tr_client_emit(buf, (size_t)n);
        if (r && !rc) rc = r;
    }
    return rc;
}
