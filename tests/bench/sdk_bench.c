/* sdk_bench.c - cost of one trail_log_metric call (1..N threads) and of the fprintf baseline. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "trail.h"

static long calls;
static int metric;
static FILE *sink;
static pthread_barrier_t start;

typedef struct {
    pthread_t tid;
    double cpu_s; /* the thread's own CPU time (user + system) over its calls */
} worker;

static double clock_s(clockid_t c)
{
    struct timespec ts;
    clock_gettime(c, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *work(void *arg)
{
    worker *w = arg;
    pthread_barrier_wait(&start);
    double t0 = clock_s(CLOCK_THREAD_CPUTIME_ID);
    if (metric) {
        for (long i = 0; i < calls; i++)
            if (trail_log_metric("loss", 1.0 / (double)(i + 1), i) != 0 && i == 0)
                fprintf(stderr, "sdk_bench: trail_log_metric failed\n");
    } else {
        for (long i = 0; i < calls; i++)
            fprintf(sink, "loss %.17g step %ld\n", 1.0 / (double)(i + 1), i);
    }
    w->cpu_s = clock_s(CLOCK_THREAD_CPUTIME_ID) - t0;
    return NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* `sdk_bench metric|fprintf CALLS THREADS`: each thread makes CALLS calls, all starting
 * together. Prints, per call:
 *   ns_per_call      wall time of the whole pass / CALLS: the wall time per call of one thread
 *                    (with more threads than free cores it grows with the time slicing alone)
 *   cpu_ns_per_call  the median over threads of the thread's own CPU time / CALLS: what one
 *                    call costs the thread that makes it. Equal to the 1-thread figure when
 *                    threads share no lock and no written cache line on the path.
 *   cpu_ns_max       the same for the thread that spent the most
 *   wall_ns_per_any  wall time / (CALLS * THREADS): the throughput of all threads together
 *                    (on C free cores ideally the 1-thread figure / min(C, THREADS)) */
int main(int argc, char **argv)
{
    if (argc != 4 || (strcmp(argv[1], "metric") && strcmp(argv[1], "fprintf"))) {
        fprintf(stderr, "usage: sdk_bench metric|fprintf CALLS THREADS\n");
        return 2;
    }
    metric = !strcmp(argv[1], "metric");
    calls = atol(argv[2]);
    int threads = atoi(argv[3]);
    if (calls <= 0 || threads <= 0 || threads > 64) return 2;
    if (!metric && !(sink = fopen("/dev/null", "w"))) return 1;
    if (metric) trail_log_metric("warmup", 0, 0); /* the run starts outside the timing */
    if (pthread_barrier_init(&start, NULL, (unsigned)threads + 1) != 0) return 1;
    worker w[64];
    for (int i = 0; i < threads; i++)
        if (pthread_create(&w[i].tid, NULL, work, &w[i]) != 0) return 1;
    pthread_barrier_wait(&start);
    double t0 = clock_s(CLOCK_MONOTONIC);
    for (int i = 0; i < threads; i++)
        pthread_join(w[i].tid, NULL);
    double dt = clock_s(CLOCK_MONOTONIC) - t0;
    if (metric) trail_flush();
    double cpu[64];
    for (int i = 0; i < threads; i++)
        cpu[i] = w[i].cpu_s;
    qsort(cpu, (size_t)threads, sizeof cpu[0], cmp_double);
    double med = threads % 2 ? cpu[threads / 2] : (cpu[threads / 2 - 1] + cpu[threads / 2]) / 2;
    printf("calls=%ld threads=%d ns_per_call=%.1f cpu_ns_per_call=%.1f cpu_ns_max=%.1f "
           "wall_ns_per_any=%.1f\n",
           calls, threads, dt / (double)calls * 1e9, med / (double)calls * 1e9,
           cpu[threads - 1] / (double)calls * 1e9, dt / (double)calls / threads * 1e9);
    return 0;
}
