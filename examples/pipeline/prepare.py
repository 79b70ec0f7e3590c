#!/usr/bin/python3
"""prepare.py - stage 1: generates a labelled data set, one sample file per example.

An unmodified program (standard library only): trail records what it writes through the
capture shim, not through any call made here."""
import argparse
import os
import random


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="data")
    ap.add_argument("--n", type=int, default=256)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    rnd = random.Random(a.seed)
    os.makedirs(os.path.join(a.out, "samples"), exist_ok=True)
    true_w = [1.5, -2.0, 0.5, 1.0]
    labels = []
    for i in range(a.n):
        x = [rnd.gauss(0, 1) for _ in true_w]
        score = sum(w * v for w, v in zip(true_w, x)) + rnd.gauss(0, 1.5)
        labels.append((i, 1 if score > 0 else 0))
        with open(os.path.join(a.out, "samples", "%04d.txt" % i), "w") as f:
            f.write(",".join("%.6f" % v for v in x) + "\n")
    with open(os.path.join(a.out, "labels.csv"), "w") as f:
        f.write("sample,label\n")
        for i, y in labels:
            f.write("%d,%d\n" % (i, y))
    print("samples=%d" % a.n)


if __name__ == "__main__":
    main()
