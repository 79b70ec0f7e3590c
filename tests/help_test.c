/* help_test.c - every command's --help, usage errors and --format, walking trail's own tables. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tassert.h"
#include "tproc.h"

static char names[32][64];
static int nnames;

/* The names `trail help --list` prints: every command of the registry. */
static void list_commands(void)
{
    char *out = NULL;
    T_EQ_INT(TPROC(&out, NULL, (char *)tproc_bin("trail"), "help", "--list"), 0);
    for (char *l = out ? strtok(out, "\n") : NULL; l && nnames < 32; l = strtok(NULL, "\n"))
        snprintf(names[nnames++], sizeof names[0], "%s", l);
    free(out);
    T_ASSERT(nnames >= 9); /* run runs show metrics lineage diff sync agent help */
}

/* Every line at most 79 columns: --help fits a terminal. */
static int fits(const char *text)
{
    for (const char *l = text; *l;) {
        const char *nl = strchr(l, '\n');
        size_t n = nl ? (size_t)(nl - l) : strlen(l);
        if (n > 79) return 0;
        l += n + (nl ? 1 : 0);
    }
    return 1;
}

static void every_help(void)
{
    char *index = NULL;
    T_EQ_INT(TPROC(&index, NULL, (char *)tproc_bin("trail"), "--help"), 0);
    T_CHECK(index && strstr(index, "usage: trail COMMAND") == index && fits(index));
    for (int i = 0; i < nnames; i++) {
        char *out = NULL, *err = NULL, *h = NULL, *via = NULL, *man = NULL, want[128], line[80];
        const char *cmd = names[i];
        snprintf(line, sizeof line, "\n  %-10s", cmd);
        if (!index || !strstr(index, line)) T_FAIL("trail --help does not list %s", cmd);
        snprintf(want, sizeof want, "usage: trail %s", cmd);
        int st = TPROC(&out, &err, (char *)tproc_bin("trail"), (char *)cmd, "--help");
        if (st != 0 || !out || strstr(out, want) != out || !strstr(out, "  -h, --help") ||
            !fits(out) || (err && *err))
            T_FAIL("trail %s --help: exit %d, stdout '%.200s', stderr '%s'", cmd, st, out, err);
        if (TPROC(&h, NULL, (char *)tproc_bin("trail"), (char *)cmd, "-h") != 0 || !h || !out ||
            strcmp(h, out))
            T_FAIL("trail %s -h is not its --help", cmd);
        if (TPROC(&via, NULL, (char *)tproc_bin("trail"), "help", (char *)cmd) != 0 || !via ||
            !out || strcmp(via, out))
            T_FAIL("trail help %s is not trail %s --help", cmd, cmd);
        T_EQ_INT(TPROC(&man, NULL, (char *)tproc_bin("trail"), "help", "--man", (char *)cmd), 0);
        T_CHECK(man && strstr(man, ".TH \"TRAIL-") == man && strstr(man, ".SH OPTIONS"));
        free(out);
        free(err);
        free(h);
        free(via);
        free(man);
    }
    free(index);
    char *out = NULL;
    T_EQ_INT(TPROC(&out, NULL, (char *)tproc_bin("traild"), "--help"), 0);
    T_CHECK(out && strstr(out, "usage: traild ") == out && strstr(out, "--listen URL") &&
            fits(out));
    free(out);
    T_EQ_INT(TPROC(&out, NULL, (char *)tproc_bin("traild"), "--man"), 0);
    T_CHECK(out && strstr(out, ".TH \"TRAILD\"") == out);
    free(out);
}

/* stderr is exactly one line and holds each of the needles. */
static void one_line(const char *what, const char *err, const char *a, const char *b)
{
    if (!err || !*err || strchr(err, '\n') != err + strlen(err) - 1 || (a && !strstr(err, a)) ||
        (b && !strstr(err, b)))
        T_FAIL("%s: stderr '%s' is not one line with '%s' and '%s'", what, err ? err : "",
               a ? a : "", b ? b : "");
}

static void unknown_and_missing(void)
{
    for (int i = 0; i < nnames; i++) {
        char *err = NULL, hint[128], what[128];
        /* %.63s: a name fits names[i]; gcc cannot bound i, so it sizes %s by all of names */
        snprintf(hint, sizeof hint, "(see trail %.63s --help)", names[i]);
        snprintf(what, sizeof what, "trail %.63s --no-such-flag", names[i]);
        int st =
            TPROC(NULL, &err, (char *)tproc_bin("trail"), names[i], "--no-such-flag", "--", "true");
        T_EQ_INT(st, 2);
        one_line(what, err, "unknown option '--no-such-flag'", hint);
        free(err);
    }
    /* a value missing at the end of the line */
    static const char *const missing[][3] = {
        {"runs", "--where", NULL},      {"show", "x", "--store"}, {"metrics", "x", "--format"},
        {"lineage", "x", "--depth"},    {"diff", "a", "--store"}, {"sync", "--spool-root", NULL},
        {"agent", "--collector", NULL}, {"run", "--store", NULL},
    };
    for (size_t i = 0; i < sizeof missing / sizeof missing[0]; i++) {
        char *err = NULL;
        int st = TPROC(NULL, &err, (char *)tproc_bin("trail"), (char *)missing[i][0],
                       (char *)missing[i][1], (char *)missing[i][2]);
        T_EQ_INT(st, 2);
        one_line(missing[i][0], err, "missing value for", NULL);
        free(err);
    }
    char *err = NULL;
    T_EQ_INT(TPROC(NULL, &err, (char *)tproc_bin("traild"), "--bogus"), 2);
    one_line("traild --bogus", err, "unknown option '--bogus'", "(see traild --help)");
    free(err);
    T_EQ_INT(TPROC(NULL, &err, (char *)tproc_bin("traild"), "--listen", "1", "--store"), 2);
    one_line("traild --store", err, "missing value for '--store'", NULL);
    free(err);
    T_EQ_INT(TPROC(NULL, &err, (char *)tproc_bin("trail"), "frobnicate"), 2);
    one_line("trail frobnicate", err, "unknown command 'frobnicate'", "trail --help");
    free(err);
}

/* --format: a bad value lists the good ones; --json and --csv are --format json and csv. */
static void formats(void)
{
    const char *dir = tproc_sandbox();
    char store[512], *out = NULL;
    snprintf(store, sizeof store, "%s/s.db", dir);
    T_EQ_INT(TPROC(NULL, NULL, (char *)tproc_bin("trail"), "run", "--store", store, "--name", "a",
                   "--param", "lr=1", "--", "true"),
             0);
    T_EQ_INT(TPROC(NULL, NULL, (char *)tproc_bin("trail"), "run", "--store", store, "--name", "b",
                   "--param", "lr=2", "--", "sh", "-c", "echo loss=0.5"),
             0);
    static const char *const cmds[][4] = {
        /* command, its positionals, the formats it has */
        {"runs", NULL, NULL, "text|json|csv"},   {"show", "a", NULL, "text|json"},
        {"metrics", "b", NULL, "text|json|csv"}, {"lineage", "a", NULL, "text|json|dot|mermaid"},
        {"diff", "a", "b", "text|json"},
    };
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        char *err = NULL, *a = NULL, *b = NULL;
        char *argv[12] = {(char *)tproc_bin("trail"), (char *)cmds[i][0], "--store", store};
        int n = 4;
        for (int k = 1; k < 3; k++)
            if (cmds[i][k]) argv[n++] = (char *)cmds[i][k];
        argv[n] = "--format", argv[n + 1] = "bogus", argv[n + 2] = NULL;
        T_EQ_INT(tproc_run(argv, NULL, &err), 2);
        one_line(cmds[i][0], err, cmds[i][3], "'bogus'");
        free(err);
        const char *alias[] = {"json", "csv"};
        for (int k = 0; k < 2; k++) {
            if (!strstr(cmds[i][3], alias[k])) continue;
            char flag[16];
            snprintf(flag, sizeof flag, "--%s", alias[k]);
            argv[n] = flag, argv[n + 1] = NULL;
            T_EQ_INT(tproc_run(argv, &a, NULL), 0);
            argv[n] = "--format", argv[n + 1] = (char *)alias[k], argv[n + 2] = NULL;
            T_EQ_INT(tproc_run(argv, &b, NULL), 0);
            if (!a || !b || !*a || strcmp(a, b))
                T_FAIL("trail %s: %s and --format %s differ", cmds[i][0], flag, alias[k]);
            free(a);
            free(b);
        }
    }
    T_EQ_INT(TPROC(&out, NULL, (char *)tproc_bin("trail"), "runs", "--store", store, "--csv"), 0);
    T_CHECK(out && strstr(out, "id,name,experiment,status") == out && strstr(out, "params.lr"));
    free(out);
    /* options end at CMD: what follows is CMD's, even when it looks like trail's */
    T_EQ_INT(TPROC(&out, NULL, (char *)tproc_bin("trail"), "run", "--store", store, "--no-capture",
                   "echo", "--json", "--", "-h"),
             0);
    T_CHECK(out && strstr(out, "--json -- -h"));
    free(out);
}

int main(void)
{
    T_RUN(list_commands);
    T_RUN(every_help);
    T_RUN(unknown_and_missing);
    T_RUN(formats);
    return T_DONE();
}
