/* sdk_client.c - a small SDK program driven by the integration tests through its arguments. */
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "trail.h"

static int failures;

static void check(int rc, const char *what)
{
    if (rc != 0) {
        fprintf(stderr, "sdk_client: %s: %s\n", what, trail_strerror(rc));
        failures++;
    }
}

typedef struct job {
    int id, n;
} job;

static void *thread_main(void *arg)
{
    job *j = arg;
    char key[32];
    snprintf(key, sizeof key, "t%d", j->id);
    for (int i = 0; i < j->n; i++)
        check(trail_log_metric(key, i, i), "log_metric");
    return NULL;
}

/* Arguments are actions, done in order:
 *   start EXP NAME | param K V | tag K V | metrics N | threads T N | special | input P |
 *   output P | end STATUS | sleep MS | exit CODE | signal SIG | fork N */
int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "start") && i + 2 < argc) {
            check(trail_start_run(argv[i + 1], argv[i + 2]), "start_run");
            i += 2;
        } else if (!strcmp(a, "param") && i + 2 < argc) {
            check(trail_log_param(argv[i + 1], argv[i + 2]), "log_param");
            i += 2;
        } else if (!strcmp(a, "tag") && i + 2 < argc) {
            check(trail_set_tag(argv[i + 1], argv[i + 2]), "set_tag");
            i += 2;
        } else if (!strcmp(a, "metrics") && i + 1 < argc) {
            int n = atoi(argv[++i]);
            for (int k = 0; k < n; k++)
                check(trail_log_metric("m", k * 0.5, k), "log_metric");
        } else if (!strcmp(a, "threads") && i + 2 < argc) {
            int t = atoi(argv[i + 1]), n = atoi(argv[i + 2]);
            i += 2;
            pthread_t th[64];
            job jobs[64];
            for (int k = 0; k < t && k < 64; k++) {
                jobs[k] = (job){k, n};
                pthread_create(&th[k], NULL, thread_main, &jobs[k]);
            }
            for (int k = 0; k < t && k < 64; k++)
                pthread_join(th[k], NULL);
        } else if (!strcmp(a, "special")) {
            check(trail_log_metric("special", NAN, 0), "nan");
            check(trail_log_metric("special", INFINITY, 1), "inf");
            check(trail_log_metric("special", -INFINITY, 2), "-inf");
        } else if (!strcmp(a, "input") && i + 1 < argc) {
            check(trail_log_input(argv[++i]), "log_input");
        } else if (!strcmp(a, "output") && i + 1 < argc) {
            check(trail_log_output(argv[++i]), "log_output");
        } else if (!strcmp(a, "end") && i + 1 < argc) {
            check(trail_end_run(atoi(argv[++i])), "end_run");
        } else if (!strcmp(a, "sleep") && i + 1 < argc) {
            usleep((useconds_t)atoi(argv[++i]) * 1000);
        } else if (!strcmp(a, "exit") && i + 1 < argc) {
            exit(failures ? 99 : atoi(argv[++i]));
        } else if (!strcmp(a, "signal") && i + 1 < argc) {
            signal(atoi(argv[i + 1]), SIG_DFL);
            raise(atoi(argv[++i]));
        } else if (!strcmp(a, "runid")) {
            const char *id = trail_run_id();
            printf("%s\n", id ? id : "none");
            fflush(stdout);
        } else {
            fprintf(stderr, "sdk_client: bad action '%s'\n", a);
            return 98;
        }
    }
    return failures ? 99 : 0;
}
