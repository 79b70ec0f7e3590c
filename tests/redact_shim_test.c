/* redact_shim_test.c - the shim redacts secret environment values and argument parts in-process. */
#include "shim_util.h"

static char *spool;
static char env_preload[4200], env_spool[4200];

static void test_shim_redacts(void)
{
    shu_recs rs = {0};
    const char *url = "postgres://me:pw-s3cr3t-1@db.example/x";
    const char *tok = "ghp_abcdefghijklmnopqrstuvwxyz0123456789";
    char arg[256];
    snprintf(arg, sizeof arg, "--db=%s", url);
    /* by value in the environment, and in the command line (the rest stays readable) */
    char env_url[300];
    snprintf(env_url, sizeof env_url, "DATABASE_URL=%s", url);
    T_EQ_INT(SHU_RUN(((char *const[]){env_preload, "TRAIL_RUN_ID=" SHU_RUN_ID, env_spool, env_url,
                                      "PLAIN_VAR=visible-value", NULL}),
                     NULL, NULL, "sh", "-c", "exec true", arg, (char *)tok),
             0);
    shu_load(&rs, spool);
    const char *want = "--db=postgres://me:[redacted]@db.example/x";
    int env_redacted = 0, plain = 0, argv_seen = 0;
    for (size_t i = 0; i < rs.n; i++) {
        const shu_rec *r = &rs.v[i];
        if (r->r.type == TR_REC_ENV && !strcmp(shu_s(r, TR_F_KEY), "DATABASE_URL"))
            env_redacted = shu_i(r, TR_F_REDACTED, 0) == 1;
        if (r->r.type == TR_REC_ENV && !strcmp(shu_s(r, TR_F_KEY), "PLAIN_VAR"))
            plain = !strcmp(shu_s(r, TR_F_VALUE), "visible-value");
        if (r->r.type != TR_REC_PROC_START) continue;
        for (uint16_t f = 0; f < r->r.nfields; f++) {
            const tr_field *fd = &r->r.fields[f];
            if (fd->id != TR_F_ARGV) continue;
            if (fd->len == strlen(want) && !memcmp(fd->data, want, fd->len)) argv_seen |= 1;
            if (fd->len == 10 && !memcmp(fd->data, "[redacted]", 10)) argv_seen |= 2;
        }
    }
    T_CHECK(env_redacted);
    T_CHECK(plain);
    T_EQ_INT(argv_seen, 3);
    T_CHECK(!shu_dir_contains(spool, "pw-s3cr3t-1"));
    T_CHECK(!shu_dir_contains(spool, tok));
    shu_free(&rs);
}

int main(void)
{
    tproc_sandbox();
    spool = shu_mkdtemp("spool");
    snprintf(env_preload, sizeof env_preload, "LD_PRELOAD=%s", shu_preload());
    snprintf(env_spool, sizeof env_spool, "TRAIL_SPOOL=%s", spool);
    T_RUN(test_shim_redacts);
    if (!tassert_failures) shu_rm_rf(spool);
    free(spool);
    return T_DONE();
}
