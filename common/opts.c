/* opts.c - table-driven command-line options: parsing, --help, one-line errors, man pages. */
#include "opts.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "trail.h"

#ifndef TRAIL_VERSION
#define TRAIL_VERSION "0"
#endif

#define TR_OPT_COL 24   /* where help text starts in --help */
#define TR_OPT_WIDTH 79 /* the usage line wraps before this column */

static const tr_opt tr_opt_help_entry = {
    .name = "help", .alias = 'h', .kind = TR_OPT_FLAG, .help = "show this help and exit"};

int tr_opt_error(const tr_opt_cmd *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", cmd->name);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (see %s --help)\n", cmd->name);
    va_end(ap);
    return TRAIL_EINVAL;
}

const char *tr_opt_word(const tr_opt_cmd *cmd)
{
    const char *sp = strrchr(cmd->name, ' ');
    return sp ? sp + 1 : cmd->name;
}

static const tr_opt *tr_opt_find_long(const tr_opt_cmd *cmd, const char *name, size_t n)
{
    for (const tr_opt *o = cmd->opts; o && o->name; o++)
        if (strlen(o->name) == n && !strncmp(o->name, name, n)) return o;
    if (n == 4 && !strncmp(name, "help", 4)) return &tr_opt_help_entry;
    return NULL;
}

static const tr_opt *tr_opt_find_short(const tr_opt_cmd *cmd, char c)
{
    for (const tr_opt *o = cmd->opts; o && o->name; o++)
        if (o->alias && o->alias == c) return o;
    return c == 'h' ? &tr_opt_help_entry : NULL;
}

static int tr_opt_takes_value(const tr_opt *o)
{
    return o->kind == TR_OPT_VALUE || o->kind == TR_OPT_LIST || o->kind == TR_OPT_MULTI;
}

/* Checks a value against o->choices ("a|b|c"). */
static int tr_opt_choice_ok(const tr_opt *o, const char *v)
{
    size_t n = strlen(v);
    for (const char *c = o->choices; *c;) {
        const char *end = strchr(c, '|');
        size_t len = end ? (size_t)(end - c) : strlen(c);
        if (len == n && !strncmp(c, v, n)) return 1;
        if (!end) break;
        c = end + 1;
    }
    return 0;
}

/* Stores one value of option o; TRAIL_EINVAL after printing why not. */
static int tr_opt_store(const tr_opt_cmd *cmd, const tr_opt *o, void *dst, const char *v)
{
    char *base = dst;
    if (o->kind == TR_OPT_VALUE) {
        if (o->choices && !tr_opt_choice_ok(o, v))
            return tr_opt_error(cmd, "--%s must be one of %s, not '%s'", o->name, o->choices, v);
        *(const char **)(base + o->off) = v;
        return 0;
    }
    int *count = (int *)(base + o->count_off);
    if (*count >= o->max) return tr_opt_error(cmd, "at most %d --%s options", o->max, o->name);
    ((const char **)(base + o->off))[(*count)++] = v;
    return 0;
}

static int tr_opt_add_arg(const tr_opt_cmd *cmd, tr_opt_args *args, char *a)
{
    if ((cmd->max_args >= 0 && args->argc >= cmd->max_args) || args->argc >= TR_OPT_MAX_ARGS)
        return tr_opt_error(cmd, "unexpected argument '%s'", a);
    args->buf[args->argc++] = a;
    return 0;
}

int tr_opt_parse(const tr_opt_cmd *cmd, int argc, char **argv, void *dst, tr_opt_args *args)
{
    tr_opt_args none;
    if (!args) args = &none;
    memset(args, 0, sizeof *args);
    args->argv = args->buf;
    int i = 1, rc;
    for (; i < argc; i++) {
        char *a = argv[i];
        const char *val = NULL;
        const tr_opt *o;
        if (!strcmp(a, "--")) {
            i++;
            break;
        }
        if (a[0] != '-' || !a[1]) { /* a positional ("-" is one: stdin) */
            if (cmd->flags & TR_OPT_STOP) break;
            if ((rc = tr_opt_add_arg(cmd, args, a))) return rc;
            continue;
        }
        if (a[1] == '-') {
            const char *eq = strchr(a + 2, '=');
            size_t n = eq ? (size_t)(eq - (a + 2)) : strlen(a + 2);
            o = tr_opt_find_long(cmd, a + 2, n);
            if (!o) return tr_opt_error(cmd, "unknown option '%.*s'", (int)n + 2, a);
            if (eq) val = eq + 1;
        } else {
            o = tr_opt_find_short(cmd, a[1]);
            if (o && a[2] && tr_opt_takes_value(o))
                val = a + 2;
            else if (!o || a[2])
                return tr_opt_error(cmd, "unknown option '%s'", a);
        }
        if (o == &tr_opt_help_entry) {
            tr_opt_help(cmd, stdout);
            return TR_OPT_HELP;
        }
        if (!tr_opt_takes_value(o)) {
            if (val) return tr_opt_error(cmd, "option '--%s' takes no value", o->name);
            char *base = dst;
            if (o->kind == TR_OPT_FLAG)
                *(int *)(base + o->off) |= o->bits ? o->bits : 1;
            else
                *(const char **)(base + o->off) = o->set;
            continue;
        }
        int separate = !val;
        if (!val) {
            if (i + 1 >= argc) return tr_opt_error(cmd, "missing value for '%s'", a);
            val = argv[++i];
        }
        if ((rc = tr_opt_store(cmd, o, dst, val))) return rc;
        if (o->kind == TR_OPT_MULTI && separate)
            while (i + 1 < argc && argv[i + 1][0] != '-')
                if ((rc = tr_opt_store(cmd, o, dst, argv[++i]))) return rc;
    }
    if (cmd->flags & TR_OPT_STOP) { /* the rest, untouched (argv[argc] is NULL) */
        args->argv = argv + i;
        args->argc = argc - i;
    } else {
        for (; i < argc; i++)
            if ((rc = tr_opt_add_arg(cmd, args, argv[i]))) return rc;
    }
    if (args->argc < cmd->min_args)
        return tr_opt_error(cmd, "%s", cmd->missing ? cmd->missing : "missing argument");
    return 0;
}

int tr_opt_long(const tr_opt_cmd *cmd, const char *opt, const char *s, long min, long max,
                long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (!*s || *end || errno || v < min || v > max)
        return tr_opt_error(cmd, "%s needs a whole number from %ld to %ld, got '%s'", opt, min, max,
                            s);
    *out = v;
    return 0;
}

int tr_opt_double(const tr_opt_cmd *cmd, const char *opt, const char *s, double min, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (!*s || *end || !(v >= min))
        return tr_opt_error(cmd, "%s needs a number of at least %g, got '%s'", opt, min, s);
    *out = v;
    return 0;
}

/* ---- usage line and --help ---- */

/* One synopsis element of an option: "[--store PATH]", "[--param K=V]...". */
static void tr_opt_token(const tr_opt *o, char *buf, size_t n)
{
    int req = o->flags & TR_OPT_REQUIRED;
    const char *arg = o->arg ? o->arg : "VALUE";
    if (!tr_opt_takes_value(o))
        snprintf(buf, n, "%s--%s%s", req ? "" : "[", o->name, req ? "" : "]");
    else
        snprintf(buf, n, "%s--%s %s%s%s%s", req ? "" : "[", o->name, arg,
                 o->kind == TR_OPT_MULTI ? "..." : "", req ? "" : "]",
                 o->kind == TR_OPT_LIST ? "..." : "");
}

/* Writes the synopsis after prefix, wrapping under its first argument. */
static void tr_opt_synopsis(const tr_opt_cmd *cmd, const char *prefix, int width, FILE *f)
{
    int indent = (int)strlen(prefix) + (int)strlen(cmd->name) + 1, col = indent - 1;
    fprintf(f, "%s%s", prefix, cmd->name);
    for (const tr_opt *o = cmd->opts;; o++) {
        char tok[256];
        if (o && o->name) {
            if (o->flags & TR_OPT_HIDDEN) continue;
            tr_opt_token(o, tok, sizeof tok);
        } else if (cmd->args) {
            snprintf(tok, sizeof tok, "%s", cmd->args);
        } else {
            break;
        }
        int len = (int)strlen(tok);
        if (col + 1 + len > width && col > indent) {
            fprintf(f, "\n%*s", indent - 1, "");
            col = indent - 1;
        }
        fprintf(f, " %s", tok);
        col += 1 + len;
        if (!o || !o->name) break;
    }
    fputc('\n', f);
}

void tr_opt_usage(const tr_opt_cmd *cmd, FILE *f)
{
    tr_opt_synopsis(cmd, "usage: ", TR_OPT_WIDTH, f);
}

static void tr_opt_help_line(const tr_opt *o, FILE *f)
{
    char left[256];
    int n = o->alias ? snprintf(left, sizeof left, "  -%c, --%s", o->alias, o->name)
                     : snprintf(left, sizeof left, "  --%s", o->name);
    if (tr_opt_takes_value(o) && n > 0 && (size_t)n < sizeof left)
        n += snprintf(left + n, sizeof left - (size_t)n, " %s%s", o->arg ? o->arg : "VALUE",
                      o->kind == TR_OPT_MULTI ? "..." : "");
    if (n >= TR_OPT_COL - 1)
        fprintf(f, "%s\n%*s%s\n", left, TR_OPT_COL, "", o->help ? o->help : "");
    else
        fprintf(f, "%-*s%s\n", TR_OPT_COL, left, o->help ? o->help : "");
}

void tr_opt_help(const tr_opt_cmd *cmd, FILE *f)
{
    tr_opt_usage(cmd, f);
    if (cmd->summary) fprintf(f, "\n%s.\n", cmd->summary);
    if (cmd->args_help) fprintf(f, "\n%s", cmd->args_help);
    fputs("\noptions:\n", f);
    for (const tr_opt *o = cmd->opts; o && o->name; o++)
        if (!(o->flags & TR_OPT_HIDDEN)) tr_opt_help_line(o, f);
    tr_opt_help_line(&tr_opt_help_entry, f);
    if (cmd->details) fprintf(f, "\n%s", cmd->details);
}

/* ---- man pages ---- */

/* Text with roff's specials escaped; lines starting with '.' or '\'' made literal. */
static void tr_opt_roff(const char *s, FILE *f)
{
    int bol = 1;
    for (; *s; s++) {
        if (bol && (*s == '.' || *s == '\'')) fputs("\\&", f);
        bol = *s == '\n';
        if (*s == '\\')
            fputs("\\e", f);
        else if (*s == '-')
            fputs("\\-", f);
        else
            fputc(*s, f);
    }
}

static void tr_opt_man_title(const char *name, FILE *f)
{
    fputs(".TH \"", f);
    for (const char *p = name; *p; p++)
        fputc(*p == ' ' ? '-' : (*p >= 'a' && *p <= 'z') ? *p - 'a' + 'A' : *p, f);
    fprintf(f, "\" \"1\" \"\" \"trail %s\" \"trail manual\"\n.SH NAME\n", TRAIL_VERSION);
    for (const char *p = name; *p; p++) {
        if (*p == ' ' || *p == '-')
            fputs("\\-", f);
        else
            fputc(*p, f);
    }
}

/* A block of preformatted text (indented lists, examples). */
static void tr_opt_man_block(const char *title, const char *text, FILE *f)
{
    if (!text) return;
    fprintf(f, ".SH %s\n.nf\n", title);
    tr_opt_roff(text, f);
    if (text[0] && text[strlen(text) - 1] != '\n') fputc('\n', f);
    fputs(".fi\n", f);
}

static void tr_opt_man_opt(const tr_opt *o, FILE *f)
{
    fputs(".TP\n", f);
    if (o->alias) fprintf(f, "\\fB\\-%c\\fR, ", o->alias);
    fputs("\\fB\\-\\-", f);
    tr_opt_roff(o->name, f);
    fputs("\\fR", f);
    if (tr_opt_takes_value(o)) {
        fputs(" \\fI", f);
        tr_opt_roff(o->arg ? o->arg : "VALUE", f);
        fputs(o->kind == TR_OPT_MULTI ? "\\fR...\n" : "\\fR\n", f);
    } else {
        fputc('\n', f);
    }
    tr_opt_roff(o->help ? o->help : "", f);
    fputs(o->kind == TR_OPT_LIST ? " (repeatable)\n" : "\n", f);
}

void tr_opt_man(const tr_opt_cmd *cmd, FILE *f)
{
    tr_opt_man_title(cmd->name, f);
    fputs(" \\- ", f);
    tr_opt_roff(cmd->summary ? cmd->summary : "", f);
    fputs("\n.SH SYNOPSIS\n.nf\n", f);
    char *syn = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&syn, &len);
    if (m) {
        tr_opt_synopsis(cmd, "", TR_OPT_WIDTH - 8, m); /* man indents it */
        fclose(m);
        tr_opt_roff(syn, f);
        free(syn);
    }
    fputs(".fi\n", f);
    tr_opt_man_block("DESCRIPTION", cmd->args_help, f);
    fputs(".SH OPTIONS\n", f);
    for (const tr_opt *o = cmd->opts; o && o->name; o++)
        if (!(o->flags & TR_OPT_HIDDEN)) tr_opt_man_opt(o, f);
    tr_opt_man_opt(&tr_opt_help_entry, f);
    tr_opt_man_block("NOTES", cmd->details, f);
}

void tr_opt_index(const char *prog, const char *summary, const tr_opt_cmd *const *cmds, int n,
                  const char *details, FILE *f, int man)
{
    if (man) {
        tr_opt_man_title(prog, f);
        fputs(" \\- ", f);
        tr_opt_roff(summary, f);
        fprintf(f, "\n.SH SYNOPSIS\n\\fB%s\\fR \\fICOMMAND\\fR [\\fIOPTIONS\\fR]\n", prog);
        fputs(".SH COMMANDS\n", f);
        for (int i = 0; i < n; i++) {
            fputs(".TP\n\\fB", f);
            tr_opt_roff(tr_opt_word(cmds[i]), f);
            fputs("\\fR\n", f);
            tr_opt_roff(cmds[i]->summary ? cmds[i]->summary : "", f);
            fputc('\n', f);
        }
        tr_opt_man_block("NOTES", details, f);
        fputs(".SH SEE ALSO\n", f);
        for (int i = 0; i < n; i++) {
            fputs(i ? ",\n" : "", f);
            fprintf(f, "\\fB%s\\-", prog);
            tr_opt_roff(tr_opt_word(cmds[i]), f);
            fputs("\\fR(1)", f);
        }
        fputc('\n', f);
        return;
    }
    fprintf(f, "usage: %s COMMAND [OPTIONS]\n\n%s.\n\ncommands:\n", prog, summary);
    for (int i = 0; i < n; i++)
        fprintf(f, "  %-10s%s\n", tr_opt_word(cmds[i]), cmds[i]->summary ? cmds[i]->summary : "");
    fprintf(f, "\n'%s COMMAND --help' shows a command's options.\n", prog);
    if (details) fprintf(f, "\n%s", details);
}
