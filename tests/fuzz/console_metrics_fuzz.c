/* console_metrics_fuzz.c - fuzz target: the console metrics parser over arbitrary bytes, split
 * into lines at \n and \r as the launcher splits a console, with and without a user pattern. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "console_metrics.h"

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "console_metrics_fuzz: invariant broken: %s\n", #c);                   \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static uint64_t lines, points;

static void check_line(const uint8_t *d, size_t n, const tr_cm_rules *rules)
{
    tr_cm_line l;
    int np = tr_cm_parse((const char *)d, n, rules, &l);
    CHECK(np == l.npoints && np >= 0 && np <= TR_CM_MAX_POINTS);
    CHECK(n <= TR_CM_LINE_MAX || np == 0);
    for (int i = 0; i < np; i++) {
        size_t kl = strnlen(l.p[i].key, TR_CM_KEY_MAX);
        CHECK(kl > 0 && kl < TR_CM_KEY_MAX);
        for (int j = 0; j < i; j++)
            CHECK(strcmp(l.p[i].key, l.p[j].key) != 0); /* a key once per line */
    }
    CHECK(!l.has_step || l.step >= 0);
    lines++;
    points += (uint64_t)np;
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);
int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
    static tr_cm_rules rules;
    static int ready;
    if (!ready) {
        char err[256];
        CHECK(tr_cm_rules_add(&rules, "(?<key>[a-z_]+)~(?<value>[-0-9.e]+)", err, sizeof err) == 0);
        CHECK(tr_cm_rules_add(&rules, "score is (?P<score>[0-9.]+)", err, sizeof err) == 0);
        ready = 1;
    }
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && d[i] != '\n' && d[i] != '\r') continue;
        /* an exactly sized copy, so a sanitizer sees any read past the line */
        size_t len = i - start;
        uint8_t *copy = malloc(len ? len : 1);
        if (!copy) abort();
        memcpy(copy, d + start, len);
        check_line(copy, len, NULL);
        check_line(copy, len, &rules);
        free(copy);
        start = i + 1;
    }
    return 0;
}

#ifndef TRAIL_LIBFUZZER
#include "replay.h"

int main(int argc, char **argv)
{
    long files;
    long errors = fuzz_replay_all(argc, argv, &files);
    printf("console_metrics_fuzz: %ld input(s), %llu line(s), %llu point(s), %ld error(s)\n", files,
           (unsigned long long)lines, (unsigned long long)points, errors);
    return errors || files == 0 ? 1 : 0;
}
#endif
