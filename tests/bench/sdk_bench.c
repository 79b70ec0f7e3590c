/* sdk_bench.c - cost of one trail_log_metric call (1..N threads) and of the fprintf baseline. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "trail.h"

static long calls;
static FILE *sink;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *log_metrics(void *arg)
{
    (void)arg;
    for (long i = 0; i < calls; i++)
        if (trail_log_metric("loss", 1.0 / (double)(i + 1), i) != 0 && i == 0)
            fprintf(stderr, "sdk_bench: trail_log_metric failed\n");
    return NULL;
}

static void *print_lines(void *arg)
{
    (void)arg;
    for (long i = 0; i < calls; i++)
        fprintf(sink, "loss %.17g step %ld\n", 1.0 / (double)(i + 1), i);
    return NULL;
}

/* `sdk_bench metric|fprintf CALLS THREADS`: each thread makes CALLS calls; prints the wall
 * time per call of one thread (equal to the 1-thread figure when calls scale linearly). */
int main(int argc, char **argv)
{
    if (argc != 4 || (strcmp(argv[1], "metric") && strcmp(argv[1], "fprintf"))) {
        fprintf(stderr, "usage: sdk_bench metric|fprintf CALLS THREADS\n");
        return 2;
    }
    int metric = !strcmp(argv[1], "metric");
    calls = atol(argv[2]);
    int threads = atoi(argv[3]);
    if (calls <= 0 || threads <= 0 || threads > 64) return 2;
    if (!metric && !(sink = fopen("/dev/null", "w"))) return 1;
    if (metric) trail_log_metric("warmup", 0, 0); /* the run starts outside the timing */
    pthread_t tid[64];
    double t0 = now_s();
    for (int i = 0; i < threads; i++)
        if (pthread_create(&tid[i], NULL, metric ? log_metrics : print_lines, NULL) != 0) return 1;
    for (int i = 0; i < threads; i++)
        pthread_join(tid[i], NULL);
    double dt = now_s() - t0;
    if (metric) trail_flush();
    printf("calls=%ld threads=%d ns_per_call=%.1f\n", calls, threads, dt / (double)calls * 1e9);
    return 0;
}
