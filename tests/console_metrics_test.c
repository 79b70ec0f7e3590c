/* console_metrics_test.c - the console metrics parser over real-looking training log lines of
 * each form, and over lines that must yield nothing (paths, versions, dates, ids, log prefixes). */
#include <stdio.h>
#include <string.h>

#include "console_metrics.h"
#include "tassert.h"

/* What a line yields, as text: "@STEP " when it names a step, then "key=value" in order. */
static void render(const char *line, const tr_cm_rules *rules, char *out, size_t n)
{
    tr_cm_line l;
    tr_cm_parse(line, strlen(line), rules, &l);
    size_t o = 0;
    out[0] = 0;
    if (l.has_step) o += (size_t)snprintf(out + o, n - o, "@%lld", (long long)l.step);
    for (int i = 0; i < l.npoints && o < n; i++)
        o += (size_t)snprintf(out + o, n - o, "%s%s=%g", o ? " " : "", l.p[i].key, l.p[i].value);
}

typedef struct want {
    const char *line, *yields;
} want;

/* Lines as real trainers print them, and what each must yield. */
static const want forms[] = {
    /* key=value */
    {"loss=0.31 acc=0.9", "loss=0.31 acc=0.9"},
    {"step=100 loss=0.2531 lr=0.001", "@100 loss=0.2531 lr=0.001"},
    {"INFO:__main__:step=5 loss=1.25e-03", "@5 loss=0.00125"},
    {"[train] iter=40, loss=2.5, grad_norm=0.75", "@40 loss=2.5 grad_norm=0.75"},
    /* key: value */
    {"epoch: 3 train_loss: 0.412 val_loss: 0.5", "@3 train_loss=0.412 val_loss=0.5"},
    {"Step: 200 | Loss: 0.0123 | Acc: 99.2%", "@200 Loss=0.0123 Acc=99.2"},
    /* epoch N ... loss X */
    {"epoch 2 loss 0.6205", "@2 loss=0.6205"},
    {"Epoch 3/10 - train loss 0.412 - val loss 0.388", "@3 train_loss=0.412 val_loss=0.388"},
    {"Epoch [5/20], Step [100/600], Loss: 0.2345", "@100 Loss=0.2345"},
    {"[2024-05-01 10:00:01] epoch 7 loss 0.05 accuracy 0.98", "@7 loss=0.05 accuracy=0.98"},
    /* JSON lines */
    {"{\"step\": 10, \"loss\": 0.5, \"acc\": 0.75, \"tag\": \"x\"}", "@10 loss=0.5 acc=0.75"},
    {"{\"epoch\": 1, \"val\": {\"loss\": 1}, \"train_loss\": 0.25}", "@1 train_loss=0.25"},
    /* Python dicts (Hugging Face Trainer) */
    {"{'loss': 0.5, 'grad_norm': 1.25, 'learning_rate': 5e-05, 'epoch': 0.33}",
     "loss=0.5 grad_norm=1.25 learning_rate=5e-05 epoch=0.33"},
    {"{'eval_loss': 0.41, 'eval_accuracy': 0.87, 'eval_runtime': 2.5, 'epoch': 1.0}",
     "eval_loss=0.41 eval_accuracy=0.87 eval_runtime=2.5 epoch=1"},
    {"{'train_runtime': 12.5, 'train_samples_per_second': 80.1, 'train_loss': 0.3}",
     "train_runtime=12.5 train_samples_per_second=80.1 train_loss=0.3"},
    /* Keras */
    {"1875/1875 [==============================] - 3s 2ms/step - loss: 0.2950 - accuracy: 0.9150",
     "loss=0.295 accuracy=0.915"},
    {"469/469 \xe2\x94\x81\xe2\x94\x81\xe2\x94\x81 3s 6ms/step - accuracy: 0.8812 - loss: 0.4011 - "
     "val_accuracy: 0.95 - val_loss: 0.17",
     "accuracy=0.8812 loss=0.4011 val_accuracy=0.95 val_loss=0.17"},
    {"Epoch 3/5", "@3"},
    /* tqdm postfix */
    {"Epoch 1:  45%|\xe2\x96\x88\xe2\x96\x88\xe2\x96\x8c      | 45/100 [00:05<00:06,  8.91it/s, "
     "loss=0.31, acc=0.9]",
     "@1 loss=0.31 acc=0.9"},
    {"100%|##########| 50/50 [00:02<00:00, 20.1it/s, loss=0.0102]", "loss=0.0102"},
    /* colours */
    {"\x1b[32mepoch 4\x1b[0m loss \x1b[1m0.125\x1b[0m", "@4 loss=0.125"},
    /* NaN and infinities are values */
    {"step=3 loss=nan", "@3 loss=nan"},
};

/* Lines that must yield nothing at all. */
static const char *const nothing[] = {
    "Loading data from /data/train/part-00001.csv",
    "Using torch 1.13.1+cu117, numpy 1.26.4",
    "python: 3.11",
    "numpy=1.26 scipy=1.11",
    "torch==2.1.0",
    "2024-05-01 10:00:01,123 - INFO - Starting training",
    "[2024-05-01T10:00:01Z] run 3f2a9bc1e4 started",
    "commit=3f2a9bc1e4d5 pid=12345",
    "I1202 01:23:45.678901 12345 trainer.py:88] building model",
    "W1202 01:23:45.678901 12345 main.cc:12] checkpoint saved to /tmp/ck-00012",
    "Downloading: 100%|##########| 9.91M/9.91M [00:01<00:00, 5.20MB/s]",
    "time: 12:30:01",
    "date: 2024-05-01",
    "id=0x7f3a2b",
    "rank=0 world_size=8 local_rank=0",
    "Saving model to ./checkpoints/epoch-3.pt",
    "see https://example.com/page?step=3&loss=0.5 for details",
    "--lr=0.1 --epochs=10",
    "{\"level\": \"info\", \"msg\": \"loss computed\", \"loss\": 0.3, \"ts\": 1700000000.5}",
    "{'name': 'resnet', 'layers': 50}",
    "Processed 100 files in 3.2 seconds",
    "x=3 y=4",
    "Namespace(lr=0.001, batch_size=32, epochs=10, seed=42)",
    "TrainingArguments(learning_rate=5e-05, num_train_epochs=3, loss_type=None)",
    "{'lr': 0.001, 'batch_size': 32, 'epochs': 10}",
    "Traceback (most recent call last):",
    ("  File \"/usr/lib/python3.11/site-packages/torch/nn/modules/module.py\", line 1501, in "
     "_call_impl"),
    "ValueError: expected 3 channels, got 4",
    "CUDA Version: 12.1  Driver Version: 535.104.05",
    "GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-5a3c)",
    "",
    "        ",
};

static void test_forms(void)
{
    char got[1024];
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        render(forms[i].line, NULL, got, sizeof got);
        if (strcmp(got, forms[i].yields) != 0)
            T_FAIL("line \"%s\": got \"%s\", want \"%s\"", forms[i].line, got, forms[i].yields);
    }
}

static void test_nothing(void)
{
    char got[1024];
    for (size_t i = 0; i < sizeof nothing / sizeof nothing[0]; i++) {
        render(nothing[i], NULL, got, sizeof got);
        if (got[0]) T_FAIL("line \"%s\" yields \"%s\", want nothing", nothing[i], got);
    }
}

static void test_regex(void)
{
    tr_cm_rules r = {0};
    char err[256], got[256];
    T_EQ_INT(tr_cm_rules_add(&r, "(?<key>[a-z]+) -> (?<value>[0-9.]+)", err, sizeof err), 0);
    T_EQ_INT(tr_cm_rules_add(&r, "reward was (?P<reward>[-0-9.]+)", err, sizeof err), 0);
    render("mse -> 0.25, mae -> 0.5", &r, got, sizeof got);
    T_EQ_STR(got, "mse=0.25 mae=0.5");
    render("episode done: reward was -3.5", &r, got, sizeof got);
    T_EQ_STR(got, "reward=-3.5");
    render("nothing to see", &r, got, sizeof got);
    T_EQ_STR(got, "");
    /* a pattern without named groups, or a broken one, is refused with a reason */
    T_CHECK(tr_cm_rules_add(&r, "loss ([0-9.]+)", err, sizeof err) == -1 && err[0]);
    T_CHECK(tr_cm_rules_add(&r, "(?<loss>[0-9.+)", err, sizeof err) == -1 && err[0]);
    tr_cm_rules_free(&r);
}

/* Lines longer than the limit, or made of nothing but separators, are safe and yield nothing. */
static void test_limits(void)
{
    static char big[TR_CM_LINE_MAX + 64];
    tr_cm_line l;
    memset(big, 'a', sizeof big);
    memcpy(big, "loss=1 ", 7);
    T_EQ_INT(tr_cm_parse(big, sizeof big, NULL, &l), 0);
    char many[2048] = "";
    for (int i = 0; i < 60; i++) {
        char kv[32];
        snprintf(kv, sizeof kv, "loss%d=%d ", i, i);
        strcat(many, kv);
    }
    T_EQ_INT(tr_cm_parse(many, strlen(many), NULL, &l), TR_CM_MAX_POINTS);
    T_EQ_INT(tr_cm_parse("{", 1, NULL, &l), 0);
    T_EQ_INT(tr_cm_parse("{'", 2, NULL, &l), 0);
    T_EQ_INT(tr_cm_parse("\x1b[", 2, NULL, &l), 0);
}

int main(void)
{
    T_RUN(test_forms);
    T_RUN(test_nothing);
    T_RUN(test_regex);
    T_RUN(test_limits);
    return T_DONE();
}
