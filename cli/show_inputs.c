/* show_inputs.c - `trail show RUN`'s inputs by role (store/roles.c decides it): the data first,
 * then the program's code, then the environment as one line per dependency group. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonfmt.h"
#include "show_inputs.h"

typedef struct group {
    const char *name;
    int files;
    double bytes;
} group;

static int by_files(const void *a, const void *b)
{
    const group *x = a, *y = b;
    if (x->files != y->files) return y->files - x->files;
    return strcmp(x->name, y->name);
}

/* name with control characters shown as '?' (a group name comes from a path). */
static void print_clean(const char *name, int width)
{
    char buf[512];
    size_t n = 0;
    for (const char *p = name; *p && n + 1 < sizeof buf; p++)
        buf[n++] = (unsigned char)*p < 0x20 || *p == 0x7f ? '?' : *p;
    buf[n] = 0;
    printf("  %-*s", width, buf);
}

/* One line per group of the env inputs, the largest first. */
static void show_groups(const cJSON *env)
{
    int n = cJSON_GetArraySize(env), ng = 0;
    if (n == 0) return;
    group *g = calloc((size_t)n, sizeof *g);
    double total = 0;
    const cJSON *f;
    if (!g) return;
    cJSON_ArrayForEach(f, env)
    {
        const char *name = tr_jstr(f, "group");
        double b = tr_jnum(f, "bytes", 0);
        int i = 0;
        if (!name) name = "other";
        while (i < ng && strcmp(g[i].name, name))
            i++;
        if (i == ng) g[ng++].name = name;
        g[i].files++;
        g[i].bytes += b;
        total += b;
    }
    qsort(g, (size_t)ng, sizeof *g, by_files);
    char size[32];
    tr_fmt_bytes(total, size, sizeof size);
    printf("\ninputs: env (%d file%s, %s, %d group%s; --all lists them):\n", n, n == 1 ? "" : "s",
           size, ng, ng == 1 ? "" : "s");
    for (int i = 0; i < ng; i++) {
        tr_fmt_bytes(g[i].bytes, size, sizeof size);
        print_clean(g[i].name, 40);
        printf(" %5d file%s  %10s\n", g[i].files, g[i].files == 1 ? " " : "s", size);
    }
    free(g);
}

void tr_show_inputs(const cJSON *inputs, int every, tr_show_files_fn *show)
{
    static const char *const roles[] = {"data", "code", "env"};
    static const char *const titles[] = {"inputs: data", "inputs: code", "inputs: env"};
    for (int r = 0; r < 3; r++) {
        cJSON *part = cJSON_CreateArray();
        const cJSON *f;
        if (!part) return;
        cJSON_ArrayForEach(f, inputs)
        {
            const char *role = tr_jstr(f, "role");
            /* a document without roles (an older traild): every file is data */
            if ((role ? strcmp(role, roles[r]) : r != 0) == 0)
                cJSON_AddItemReferenceToArray(part, (cJSON *)f);
        }
        if (r < 2 || every)
            show(titles[r], part, every);
        else
            show_groups(part);
        cJSON_Delete(part);
    }
}
