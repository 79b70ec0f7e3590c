#!/usr/bin/python3
"""train.py - stage 2: logistic regression on the training split.

Samples are loaded by forked worker processes (like a DataLoader); the model is saved
atomically (write a temporary file, then rename it into place)."""
import argparse
import json
import math
import multiprocessing
import os
import random


def load(path):
    with open(path) as f:
        return [float(v) for v in f.read().split(",")]


def read_labels(data):
    with open(os.path.join(data, "labels.csv")) as f:
        next(f)
        return {int(s): int(y) for s, y in (line.strip().split(",") for line in f)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="data")
    ap.add_argument("--model", default="model.json")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--lr", type=float, default=0.1)
    ap.add_argument("--workers", type=int, default=2)
    a = ap.parse_args()
    labels = read_labels(a.data)
    train = [i for i in sorted(labels) if i % 5 != 0]  # every 5th sample is held out
    paths = [os.path.join(a.data, "samples", "%04d.txt" % i) for i in train]
    with multiprocessing.get_context("fork").Pool(a.workers) as pool:
        xs = pool.map(load, paths)
    ys = [labels[i] for i in train]
    rnd = random.Random(a.seed)
    w = [rnd.gauss(0, 0.1) for _ in xs[0]]
    b = 0.0
    order = list(range(len(xs)))
    for epoch in range(a.epochs):
        rnd.shuffle(order)
        loss = 0.0
        for k in order:
            z = b + sum(wi * xi for wi, xi in zip(w, xs[k]))
            p = 1 / (1 + math.exp(-max(-30.0, min(30.0, z))))
            loss -= math.log(p if ys[k] else 1 - p + 1e-12) if p > 0 else 30.0
            g = p - ys[k]
            w = [wi - a.lr * g * xi for wi, xi in zip(w, xs[k])]
            b -= a.lr * g
        print("epoch %d: loss=%.4f" % (epoch, loss / len(order)), flush=True)
    tmp = a.model + ".tmp"
    with open(tmp, "w") as f:
        json.dump({"w": w, "b": b, "seed": a.seed}, f)
    os.replace(tmp, a.model)


if __name__ == "__main__":
    main()
