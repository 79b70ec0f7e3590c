/* train_logreg.c - trains a logistic regression on a generated data set, logging through the SDK.
 *
 * usage: train_logreg [--lr X] [--epochs N] [--samples N] [--seed N] [--out PATH]
 * Parameters given to `trail run --param K=V` arrive as TRAIL_PARAM_K and override defaults. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trail.h"

#define DIM 8

static uint64_t rng_state;

static double uniform(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (double)(rng_state >> 11) / 9007199254740992.0;
}

static double gaussian(void)
{
    double u = uniform(), v = uniform();
    if (u < 1e-300) u = 1e-300;
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

static const char *param(const char *key, const char *def, int argc, char **argv)
{
    char flag[64], env[64];
    snprintf(flag, sizeof flag, "--%s", key);
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], flag) == 0) return argv[i + 1];
    snprintf(env, sizeof env, "TRAIL_PARAM_%s", key);
    const char *e = getenv(env);
    return e ? e : def;
}

static void check(int rc, const char *what)
{
    if (rc != 0) fprintf(stderr, "train_logreg: %s: %s\n", what, trail_strerror(rc));
}

int main(int argc, char **argv)
{
    const char *lr_s = param("lr", "0.1", argc, argv);
    const char *epochs_s = param("epochs", "200", argc, argv);
    const char *n_s = param("samples", "2000", argc, argv);
    const char *seed_s = param("seed", "42", argc, argv);
    const char *out = param("out", "model.txt", argc, argv);
    double lr = atof(lr_s);
    int epochs = atoi(epochs_s), n = atoi(n_s);
    if (lr <= 0 || epochs <= 0 || n <= 10) {
        fprintf(stderr, "train_logreg: bad parameters\n");
        return 2;
    }
    rng_state = 0x9E3779B97F4A7C15ull ^ (uint64_t)atoll(seed_s);

    check(trail_log_param("lr", lr_s), "log_param");
    check(trail_log_param("epochs", epochs_s), "log_param");
    check(trail_log_param("samples", n_s), "log_param");
    check(trail_log_param("seed", seed_s), "log_param");
    check(trail_set_tag("model", "logistic-regression"), "set_tag");

    /* Data: labels from a hidden weight vector, features with Gaussian noise. */
    double truth[DIM + 1];
    for (int j = 0; j <= DIM; j++)
        truth[j] = gaussian();
    double(*x)[DIM] = malloc(sizeof(double[DIM]) * (size_t)n);
    int *y = malloc(sizeof(int) * (size_t)n);
    if (!x || !y) return 1;
    for (int i = 0; i < n; i++) {
        double z = truth[DIM];
        for (int j = 0; j < DIM; j++) {
            x[i][j] = gaussian();
            z += truth[j] * x[i][j];
        }
        y[i] = z + 0.5 * gaussian() > 0;
    }
    int ntrain = n * 4 / 5;

    double w[DIM + 1] = {0};
    for (int epoch = 0; epoch < epochs; epoch++) {
        double grad[DIM + 1] = {0}, loss = 0;
        for (int i = 0; i < ntrain; i++) {
            double z = w[DIM];
            for (int j = 0; j < DIM; j++)
                z += w[j] * x[i][j];
            double p = 1.0 / (1.0 + exp(-z));
            loss -= y[i] ? log(p + 1e-12) : log(1 - p + 1e-12);
            for (int j = 0; j < DIM; j++)
                grad[j] += (p - y[i]) * x[i][j];
            grad[DIM] += p - y[i];
        }
        for (int j = 0; j <= DIM; j++)
            w[j] -= lr * grad[j] / ntrain;
        int correct = 0;
        for (int i = ntrain; i < n; i++) {
            double z = w[DIM];
            for (int j = 0; j < DIM; j++)
                z += w[j] * x[i][j];
            correct += (z > 0) == y[i];
        }
        check(trail_log_metric("loss", loss / ntrain, epoch), "log_metric");
        check(trail_log_metric("accuracy", (double)correct / (n - ntrain), epoch), "log_metric");
    }

    FILE *f = fopen(out, "w");
    if (!f) {
        perror(out);
        return 1;
    }
    fprintf(f, "# logistic regression, %d features + bias\n", DIM);
    for (int j = 0; j <= DIM; j++)
        fprintf(f, "%.17g\n", w[j]);
    if (fclose(f) != 0) return 1;
    check(trail_log_output(out), "log_output");
    printf("trained %d epochs on %d samples; model written to %s\n", epochs, ntrain, out);
    free(x);
    free(y);
    return 0;
}
