/* opts_test.c - the option parser (common/opts): values, flags, lists, --, positionals, errors. */
#include <stddef.h>
#include <unistd.h>

#include "opts.h"
#include "tassert.h"
#include "trail.h"

typedef struct topts {
    const char *store, *format, *name;
    const char *params[3];
    int nparams;
    const char *listen[4];
    int nlisten;
    int verbose, dirs;
} topts;

static const tr_opt table[] = {
    TR_VALUE("store", "PATH", topts, store, "the store"),
    {.name = "name", .alias = 'n', .kind = TR_OPT_VALUE, .arg = "N", .off = offsetof(topts, name)},
    TR_FORMAT("text|json|csv", topts, format),
    TR_ALIAS("json", topts, format, "json", "same as --format json"),
    TR_LIST("param", "K=V", topts, params, nparams, "a parameter"),
    TR_MULTI("listen", "URL", topts, listen, nlisten, "where to listen"),
    TR_FLAG("verbose", topts, verbose, "say more"),
    TR_BITS("up", topts, dirs, 1, "upstream"),
    TR_BITS("down", topts, dirs, 2, "downstream"),
    TR_OPT_END};

static const tr_opt_cmd cmd = {.name = "t cmd",
                               .args = "A [B]",
                               .summary = "A test command",
                               .opts = table,
                               .min_args = 1,
                               .max_args = 2,
                               .missing = "which A?"};

static const tr_opt_cmd stop_cmd = {
    .name = "t run", .args = "-- CMD...", .opts = table, .flags = TR_OPT_STOP, .max_args = -1};

/* Runs the parser on a NULL-terminated list with stdout and stderr captured. */
static char out[8192], err[8192];
static int parse_v(const tr_opt_cmd *c, topts *o, tr_opt_args *a, char **argv)
{
    int argc = 0;
    while (argv[argc])
        argc++;
    memset(o, 0, sizeof *o);
    o->format = "text";
    fflush(stdout);
    fflush(stderr);
    FILE *fo = tmpfile(), *fe = tmpfile();
    int so = dup(1), se = dup(2);
    dup2(fileno(fo), 1);
    dup2(fileno(fe), 2);
    int rc = tr_opt_parse(c, argc, argv, o, a);
    fflush(stdout);
    fflush(stderr);
    dup2(so, 1);
    dup2(se, 2);
    close(so);
    close(se);
    size_t n;
    rewind(fo);
    n = fread(out, 1, sizeof out - 1, fo);
    out[n] = 0;
    rewind(fe);
    n = fread(err, 1, sizeof err - 1, fe);
    err[n] = 0;
    fclose(fo);
    fclose(fe);
    return rc;
}
#define PARSE(c, o, a, ...) parse_v(c, o, a, (char *[]){"cmd", __VA_ARGS__, NULL})

static void values(void)
{
    topts o;
    tr_opt_args a;
    T_EQ_INT(PARSE(&cmd, &o, &a, "--store", "s.db", "x", "--name=n1", "-n", "n2"), 0);
    T_EQ_STR(o.store, "s.db");
    T_EQ_STR(o.name, "n2"); /* the last one wins */
    T_EQ_INT(a.argc, 1);
    T_EQ_STR(a.argv[0], "x");
    T_EQ_INT(PARSE(&cmd, &o, &a, "--store=", "x", "-nshort", "--store=a=b"), 0);
    T_EQ_STR(o.store, "a=b");
    T_EQ_STR(o.name, "short");
    /* a value may look like an option: it is taken as the value */
    T_EQ_INT(PARSE(&cmd, &o, &a, "x", "--name", "--verbose"), 0);
    T_EQ_STR(o.name, "--verbose");
    T_EQ_INT(o.verbose, 0);
}

static void flags_and_formats(void)
{
    topts o;
    tr_opt_args a;
    T_EQ_INT(PARSE(&cmd, &o, &a, "--verbose", "x", "--up", "--down"), 0);
    T_EQ_INT(o.verbose, 1);
    T_EQ_INT(o.dirs, 3);
    T_EQ_STR(o.format, "text");
    T_EQ_INT(PARSE(&cmd, &o, &a, "x", "--json"), 0);
    T_EQ_STR(o.format, "json");
    T_EQ_INT(PARSE(&cmd, &o, &a, "x", "--format=csv"), 0);
    T_EQ_STR(o.format, "csv");
    T_EQ_INT(PARSE(&cmd, &o, &a, "x", "--format", "xml"), TRAIL_EINVAL);
    T_CHECK(strstr(err, "text|json|csv") && strstr(err, "'xml'"));
    T_EQ_INT(PARSE(&cmd, &o, &a, "x", "--verbose=1"), TRAIL_EINVAL);
    T_CHECK(strstr(err, "takes no value"));
}

static void lists(void)
{
    topts o;
    tr_opt_args a;
    T_EQ_INT(PARSE(&cmd, &o, &a, "--param", "a=1", "x", "--param=b=2"), 0);
    T_EQ_INT(o.nparams, 2);
    T_EQ_STR(o.params[0], "a=1");
    T_EQ_STR(o.params[1], "b=2");
    T_EQ_INT(
        PARSE(&cmd, &o, &a, "x", "--param", "1", "--param", "2", "--param", "3", "--param", "4"),
        TRAIL_EINVAL);
    T_CHECK(strstr(err, "at most 3 --param"));
    /* MULTI: the values up to the next option */
    T_EQ_INT(
        PARSE(&cmd, &o, &a, "--listen", "u1", "u2", "--verbose", "--listen", "u3", "x", "--", "y"),
        0);
    T_EQ_INT(o.nlisten, 4);
    T_EQ_STR(o.listen[3], "x");
    T_EQ_INT(a.argc, 1);
    T_EQ_STR(a.argv[0], "y");
}

static void positionals(void)
{
    topts o;
    tr_opt_args a;
    T_EQ_INT(PARSE(&cmd, &o, &a, "a", "--verbose", "b"), 0);
    T_EQ_INT(a.argc, 2);
    T_EQ_STR(a.argv[1], "b");
    T_EQ_INT(PARSE(&cmd, &o, &a, "a", "b", "c"), TRAIL_EINVAL);
    T_CHECK(strstr(err, "unexpected argument 'c'"));
    T_EQ_INT(PARSE(&cmd, &o, &a, "--verbose"), TRAIL_EINVAL);
    T_CHECK(strstr(err, "t cmd: which A? (see t cmd --help)\n") == err);
    /* "--" ends options; "-" is a positional */
    T_EQ_INT(PARSE(&cmd, &o, &a, "--", "--json", "-"), 0);
    T_EQ_INT(a.argc, 2);
    T_EQ_STR(a.argv[0], "--json");
    T_EQ_STR(a.argv[1], "-");
    T_EQ_STR(o.format, "text");
}

static void stop_at_command(void)
{
    topts o;
    tr_opt_args a;
    /* the positionals point into argv: it must outlive them (not a literal in T_EQ_INT's block) */
    char *cmdline[] = {"cmd", "--verbose", "--", "sh", "-c", "--json", "--", NULL};
    T_EQ_INT(parse_v(&stop_cmd, &o, &a, cmdline), 0);
    T_EQ_INT(o.verbose, 1);
    T_EQ_INT(a.argc, 4);
    T_EQ_STR(a.argv[0], "sh");
    T_EQ_STR(a.argv[3], "--");
    T_CHECK(a.argv[4] == NULL); /* argv's own NULL */
    char *cmdline2[] = {"cmd", "--json", "prog", "--verbose", NULL};
    T_EQ_INT(parse_v(&stop_cmd, &o, &a, cmdline2), 0);
    T_EQ_STR(o.format, "json");
    T_EQ_INT(o.verbose, 0);
    T_EQ_INT(a.argc, 2);
    T_EQ_STR(a.argv[1], "--verbose");
}

static void errors(void)
{
    topts o;
    tr_opt_args a;
    T_EQ_INT(PARSE(&cmd, &o, &a, "x", "--bogus=1"), TRAIL_EINVAL);
    T_EQ_STR(err, "t cmd: unknown option '--bogus' (see t cmd --help)\n");
    T_EQ_INT(PARSE(&cmd, &o, &a, "x", "-z"), TRAIL_EINVAL);
    T_CHECK(strstr(err, "unknown option '-z'"));
    T_EQ_INT(PARSE(&cmd, &o, &a, "x", "--store"), TRAIL_EINVAL);
    T_EQ_STR(err, "t cmd: missing value for '--store' (see t cmd --help)\n");
    T_EQ_INT(PARSE(&cmd, &o, &a, "x", "--stor", "y"), TRAIL_EINVAL); /* no abbreviations */
    T_CHECK(strstr(err, "unknown option '--stor'"));
    long v = 0;
    T_EQ_INT(tr_opt_long(&cmd, "--depth", "12", 1, 20, &v), 0);
    T_EQ_INT(v, 12);
    T_EQ_INT(tr_opt_long(&cmd, "--depth", "12x", 1, 20, &v), TRAIL_EINVAL);
    T_EQ_INT(tr_opt_long(&cmd, "--depth", "0", 1, 20, &v), TRAIL_EINVAL);
    double d = 0;
    T_EQ_INT(tr_opt_double(&cmd, "--timeout", "2.5", 0, &d), 0);
    T_CHECK(d == 2.5);
    T_EQ_INT(tr_opt_double(&cmd, "--timeout", "-1", 0, &d), TRAIL_EINVAL);
}

static void help(void)
{
    topts o;
    tr_opt_args a;
    T_EQ_INT(PARSE(&cmd, &o, &a, "--help"), TR_OPT_HELP); /* before the missing A */
    T_CHECK(strstr(out, "usage: t cmd [--store PATH]") == out);
    T_CHECK(strstr(out, "[--param K=V]...") && strstr(out, "[--listen URL...]"));
    T_CHECK(strstr(out, "A [B]") && strstr(out, "A test command."));
    T_CHECK(strstr(out, "  --store PATH") && strstr(out, "  -n, --name N"));
    T_CHECK(strstr(out, "  -h, --help"));
    T_EQ_STR(err, "");
    T_EQ_INT(PARSE(&cmd, &o, &a, "x", "-h"), TR_OPT_HELP);
    char *man = NULL;
    size_t n = 0;
    FILE *m = open_memstream(&man, &n);
    tr_opt_man(&cmd, m);
    fclose(m);
    T_CHECK(man && strstr(man, ".TH \"T-CMD\" \"1\"") == man);
    T_CHECK(strstr(man, "\\fB\\-\\-store\\fR \\fIPATH\\fR"));
    free(man);
}

int main(void)
{
    T_RUN(values);
    T_RUN(flags_and_formats);
    T_RUN(lists);
    T_RUN(positionals);
    T_RUN(stop_at_command);
    T_RUN(errors);
    T_RUN(help);
    return T_DONE();
}
