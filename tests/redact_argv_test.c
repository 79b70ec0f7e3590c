/* redact_argv_test.c - one redaction rule for environment and argv: each form of issue 10.6. */
#include "redact.h"
#include "shim_util.h"

static char *spool;
static char env_preload[4200], env_spool[4200];

/* argv[0..n) as the rule records it, one after the other. */
static void recorded(const tr_redact *r, const char *const *argv, int n, char out[][256])
{
    for (int i = 0; i < n; i++)
        tr_redact_arg_copy(r, i ? argv[i - 1] : NULL, argv[i], strlen(argv[i]), out[i], 256);
}

/* Secret names: the default words, and the endings PASS/PWD/DSN; WEBHOOK, PRIVATE and
 * CONNECTION_STRING anywhere in a name. */
static void test_names(void)
{
    tr_redact r = {1, {NULL, NULL}};
    static const char *const secret[] = {
        "MY_PASS",
        "DB_PWD",
        "SENTRY_DSN",
        "SLACK_WEBHOOK_URL",
        "PRIVATE_PEM",
        "AZURE_STORAGE_CONNECTION_STRING",
        "SSHPASS",
        "GITHUB_PAT=ghp_abcdefghijklmnopqrstuvwxyz0123456789",
        "DATABASE_URL=postgres://app:hunter2@db:5432/x",
        "HTTPS_PROXY=http://u:pass@proxy:3128",
        "HOOK=https://hooks.slack.com/services/T000/B000/XXXX",
        "ERRORS=https://0123abcd@o1.ingest.sentry.io/42",
        "STORE=DefaultEndpointsProtocol=https;AccountName=a;AccountKey=abc==",
        "SAS=BlobEndpoint=https://a;SharedAccessSignature=sv=1&sig=x",
        "JWT=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NSJ9.abcdefghij",
        "AWS_ID=AKIAIOSFODNN7EXAMPLE",
        "OPENAI=sk-proj-abcdefghijklmnopqrstuvwxyz012345",
        "CHAT=xoxb-123456789012-abcdefghij"};
    for (size_t i = 0; i < sizeof secret / sizeof secret[0]; i++)
        if (!tr_redact_env(&r, secret[i])) T_FAIL("not redacted: %s", secret[i]);
    static const char *const plain[] = {"PWD=/home/u/src",   "OLDPWD=/tmp",
                                        "PATH=/usr/bin",     "HOME=/home/u",
                                        "PASSENGER_COUNT=3", "REPO=https://github.com/org/repo"};
    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++)
        if (tr_redact_env(&r, plain[i])) T_FAIL("redacted: %s", plain[i]);
}

/* argv: the value of a flag whose long name is secret, in both forms, and values that are
 * secrets by themselves; everything else stays readable. */
static void test_argv_forms(void)
{
    tr_redact r = {1, {NULL, NULL}};
    const char *argv[] = {"train.py",
                          "--password=hunter2",
                          "--password",
                          "hunter3",
                          "--api-key",
                          "k-123",
                          "--db-pass",
                          "p4",
                          "--epochs",
                          "3",
                          "--db=postgres://me:pw9@db/x",
                          "--hook=https://hooks.slack.com/services/T1/B2/abc",
                          "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
                          "--no-auth",
                          "--verbose",
                          "-p",
                          "1234"};
    enum { N = sizeof argv / sizeof argv[0] };
    char out[N][256];
    recorded(&r, argv, N, out);
    const char *want[N] = {"train.py",
                           "--password=[redacted]",
                           "--password",
                           "[redacted]",
                           "--api-key",
                           "[redacted]",
                           "--db-pass",
                           "[redacted]",
                           "--epochs",
                           "3",
                           "--db=postgres://me:[redacted]@db/x",
                           "--hook=https://hooks.slack.com/services/[redacted]",
                           "[redacted]",
                           "--no-auth",
                           "--verbose", /* a flag after a secret flag is no value */
                           "-p",        /* short flags say nothing about their value */
                           "1234"};
    for (int i = 0; i < N; i++) {
        T_EQ_STR(out[i], want[i]);
        int secret = strcmp(out[i], argv[i]) != 0;
        T_EQ_INT(tr_redact_arg(&r, i ? argv[i - 1] : NULL, argv[i], strlen(argv[i])), secret);
    }
    /* TRAIL_REDACT_DEFAULTS=0 keeps only the user's own names, for argv as for env */
    tr_redact off = {0, {"mytoken", NULL}};
    const char *b[] = {"--password=x", "--mytoken", "v"};
    char ob[3][256];
    recorded(&off, b, 3, ob);
    T_EQ_STR(ob[0], "--password=x");
    T_EQ_STR(ob[2], "[redacted]");
}

/* The shim: a process's argv and environment leave it redacted (the spool's bytes). */
static void test_shim_argv(void)
{
    T_EQ_INT(SHU_RUN(((char *const[]){env_preload, "TRAIL_RUN_ID=" SHU_RUN_ID, env_spool,
                                      "MY_PASS=envpass-777", "SENTRY_DSN=https://dsnkey888@x.io/1",
                                      "SLACK_WEBHOOK_URL=https://hooks.slack.com/services/hook999",
                                      NULL}),
                     NULL, NULL, "sh", "-c", "exec true", "sh", "--password=argpass-111",
                     "--api-key", "argkey-222", "--password", "argpass-333"),
             0);
    static const char *const secrets[] = {"envpass-777", "dsnkey888",  "hook999",
                                          "argpass-111", "argkey-222", "argpass-333"};
    for (size_t i = 0; i < sizeof secrets / sizeof secrets[0]; i++)
        if (shu_dir_contains(spool, secrets[i])) T_FAIL("%s left the process", secrets[i]);
    T_CHECK(shu_dir_contains(spool, "--password=[redacted]"));
    T_CHECK(shu_dir_contains(spool, "--api-key"));
}

/* trail run: the run's own command line (RUN_START) is redacted before it is spooled or
 * stored: neither the spool nor the store file ever holds the value. */
static void test_trail_run_argv(void)
{
    char *root = shu_mkdtemp("root"), store[512];
    snprintf(store, sizeof store, "%s/t.db", root);
    setenv("TRAIL_SPOOL_ROOT", root, 1);
    T_EQ_INT(tproc_run((char *const[]){(char *)tproc_bin("trail"), "run", "--store", store, "--",
                                       "/bin/sh", "-c", "exit 0", "x", "--password=runpass-444",
                                       "--token", "runtok-555", NULL},
                       NULL, NULL),
             0);
    unsetenv("TRAIL_SPOOL_ROOT");
    T_CHECK(!shu_dir_contains(root, "runpass-444"));
    T_CHECK(!shu_dir_contains(root, "runtok-555"));
    /* the store file is in root too: the redacted form is what it holds */
    T_CHECK(shu_dir_contains(root, "--password=[redacted]"));
    shu_rm_rf(root);
    free(root);
}

int main(void)
{
    tproc_sandbox();
    spool = shu_mkdtemp("spool");
    snprintf(env_preload, sizeof env_preload, "LD_PRELOAD=%s", shu_preload());
    snprintf(env_spool, sizeof env_spool, "TRAIL_SPOOL=%s", spool);
    T_RUN(test_names);
    T_RUN(test_argv_forms);
    T_RUN(test_shim_argv);
    T_RUN(test_trail_run_argv);
    if (!tassert_failures) shu_rm_rf(spool);
    free(spool);
    return T_DONE();
}
