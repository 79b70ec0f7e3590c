/* store_path.c - where the agent finds its store, and its one-line error messages. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "agent.h"
#include "db.h"
#include "trail.h"

void tr_agent_err(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("trail: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

void tr_agent_store_path(const char *opt, char *buf, size_t n)
{
    const char *env = getenv("TRAIL_STORE");
    if (opt && *opt)
        snprintf(buf, n, "%s", opt);
    else if (env && *env)
        snprintf(buf, n, "%s", env);
    else
        snprintf(buf, n, ".trail/trail.db");
}

tr_store *tr_agent_open_store(const char *opt, int flags)
{
    char path[4096], err[4400];
    tr_store *st = NULL;
    tr_agent_store_path(opt, path, sizeof path);
    int rc = tr_store_open(path, flags, &st, err, sizeof err);
    if (rc == TRAIL_ENOTFOUND && (flags & TR_STORE_READONLY)) {
        char shown[sizeof path];
        tr_db_redact(path, shown, sizeof shown); /* a URL's password stays out of messages */
        tr_agent_err("no store at %s (record a run with `trail run` first, or pass --store / "
                     "set TRAIL_STORE)",
                     shown);
        return NULL;
    }
    if (rc) {
        tr_agent_err("%s", err[0] ? err : trail_strerror(rc));
        return NULL;
    }
    return st;
}
