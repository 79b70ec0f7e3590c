/* opts.h - table-driven command-line options: parsing, --help, one-line errors, man pages. */
#ifndef TR_OPTS_H
#define TR_OPTS_H

#include <stddef.h>
#include <stdio.h>

/* What an option takes and how it is stored in the command's option struct. */
typedef enum tr_opt_kind {
    TR_OPT_FLAG,  /* no value: int field |= bits (1 when bits is 0) */
    TR_OPT_SET,   /* no value: const char * field = set (an alias, e.g. --json) */
    TR_OPT_VALUE, /* one value: const char * field; the last one given wins */
    TR_OPT_LIST,  /* repeatable value: const char *field[max] and an int count */
    TR_OPT_MULTI, /* one or more values (those after it up to the next option): as LIST */
} tr_opt_kind;

#define TR_OPT_HIDDEN 0x1   /* left out of --help and the man page */
#define TR_OPT_REQUIRED 0x2 /* shown without brackets; the command checks it */

typedef struct tr_opt {
    const char *name; /* long name without "--"; NULL ends a table */
    char alias;       /* short alias letter (-x), 0 for none */
    tr_opt_kind kind;
    const char *arg;     /* the value's name in help ("PATH"); NULL for flags */
    const char *help;    /* one line */
    size_t off;          /* where the value goes: offset in the option struct */
    size_t count_off;    /* LIST/MULTI: offset of the int count */
    int max;             /* LIST/MULTI: capacity of the array */
    int bits;            /* FLAG: the bits or'ed in (0: 1) */
    const char *set;     /* SET: the string stored */
    const char *choices; /* VALUE: the allowed values "a|b|c" (NULL: any) */
    int flags;           /* TR_OPT_HIDDEN, TR_OPT_REQUIRED */
} tr_opt;

/* Table entries; T is the option struct type, F a field of it. */
#define TR_FLAG(N, T, F, HELP)                                                                     \
    {                                                                                              \
        .name = N, .kind = TR_OPT_FLAG, .help = HELP, .off = offsetof(T, F)                        \
    }
#define TR_BITS(N, T, F, B, HELP)                                                                  \
    {                                                                                              \
        .name = N, .kind = TR_OPT_FLAG, .help = HELP, .off = offsetof(T, F), .bits = B             \
    }
#define TR_ALIAS(N, T, F, S, HELP)                                                                 \
    {                                                                                              \
        .name = N, .kind = TR_OPT_SET, .help = HELP, .off = offsetof(T, F), .set = S               \
    }
#define TR_VALUE(N, A, T, F, HELP)                                                                 \
    {                                                                                              \
        .name = N, .kind = TR_OPT_VALUE, .arg = A, .help = HELP, .off = offsetof(T, F)             \
    }
#define TR_CHOICE(N, CHOICES, T, F, HELP)                                                          \
    {                                                                                              \
        .name = N, .kind = TR_OPT_VALUE, .arg = CHOICES, .help = HELP, .off = offsetof(T, F),      \
        .choices = CHOICES                                                                         \
    }
#define TR_FORMAT(CHOICES, T, F) TR_CHOICE("format", CHOICES, T, F, "output format (default text)")
#define TR_LIST_(K, N, A, T, F, C, HELP)                                                           \
    {                                                                                              \
        .name = N, .kind = K, .arg = A, .help = HELP, .off = offsetof(T, F),                       \
        .count_off = offsetof(T, C), .max = (int)(sizeof(((T *)0)->F) / sizeof(((T *)0)->F[0]))    \
    }
#define TR_LIST(N, A, T, F, C, HELP) TR_LIST_(TR_OPT_LIST, N, A, T, F, C, HELP)
#define TR_MULTI(N, A, T, F, C, HELP) TR_LIST_(TR_OPT_MULTI, N, A, T, F, C, HELP)
#define TR_OPT_END                                                                                 \
    {                                                                                              \
        .name = NULL                                                                               \
    }

/* Command flags. */
#define TR_OPT_STOP                                                                                \
    0x1 /* options end at the first positional: it and all after it, untouched,                    \
         * are the positionals (trail run CMD ARG...) */

/* One command: its options and its positionals. */
typedef struct tr_opt_cmd {
    const char *name;      /* as typed: "trail runs", "traild" */
    const char *args;      /* positionals for the usage line ("RUN", "-- CMD [ARG...]") */
    const char *summary;   /* one line, no final period */
    const tr_opt *opts;    /* ends with TR_OPT_END; --help/-h are implied */
    int min_args;          /* positionals required */
    int max_args;          /* positionals accepted; -1: any */
    int flags;             /* TR_OPT_STOP */
    const char *missing;   /* the error when fewer than min_args ("which run?") */
    const char *args_help; /* what the positionals are, for --help (may be NULL) */
    const char *details;   /* paragraphs after the options (may be NULL) */
} tr_opt_cmd;

#define TR_OPT_MAX_ARGS 16
#define TR_OPT_HELP 1 /* tr_opt_parse printed --help */

typedef struct tr_opt_args {
    char **argv; /* the positionals, in order */
    int argc;
    char *buf[TR_OPT_MAX_ARGS];
} tr_opt_args;

/* Parses argv[1..argc) (argv[0] is the command's name) into the option struct at dst, which
 * the caller initialised with its defaults. "--opt=value" and "--opt value" both work; "--"
 * ends the options. Returns 0, TR_OPT_HELP after printing --help to stdout, or TRAIL_EINVAL
 * after printing a one-line error with a usage hint to stderr. args may be NULL when the
 * command takes no positionals. */
int tr_opt_parse(const tr_opt_cmd *cmd, int argc, char **argv, void *dst, tr_opt_args *args);
/* The exit status for a non-zero tr_opt_parse result: 0 after --help, else 2. */
#define TR_OPT_EXIT(rc) ((rc) > 0 ? 0 : 2)

/* "NAME: MESSAGE (see NAME --help)" on stderr; returns TRAIL_EINVAL. */
int tr_opt_error(const tr_opt_cmd *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A whole number in [min, max] for option opt (for the error); 0 or TRAIL_EINVAL. */
int tr_opt_long(const tr_opt_cmd *cmd, const char *opt, const char *s, long min, long max,
                long *out);
/* A number >= min for option opt; 0 or TRAIL_EINVAL. */
int tr_opt_double(const tr_opt_cmd *cmd, const char *opt, const char *s, double min, double *out);

/* --help text: the usage line, the summary, the options and the details. */
void tr_opt_help(const tr_opt_cmd *cmd, FILE *f);
/* The usage line alone ("usage: trail runs [--where EXPR] ..."), wrapped. */
void tr_opt_usage(const tr_opt_cmd *cmd, FILE *f);
/* A man page (roff, section 1) for the command. */
void tr_opt_man(const tr_opt_cmd *cmd, FILE *f);

/* The index of a multi-command program (`trail --help`): its usage and one line per command;
 * as a man page when man is set. */
void tr_opt_index(const char *prog, const char *summary, const tr_opt_cmd *const *cmds, int n,
                  const char *details, FILE *f, int man);
/* The subcommand word of a command's name ("runs" for "trail runs"). */
const char *tr_opt_word(const tr_opt_cmd *cmd);

#endif
