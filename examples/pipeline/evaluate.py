#!/usr/bin/python3
"""evaluate.py - stage 3: scores a model on the held-out samples and writes a report."""
import argparse
import json
import math
import os


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="data")
    ap.add_argument("--model", default="model.json")
    ap.add_argument("--report", default="report.json")
    a = ap.parse_args()
    with open(a.model) as f:
        m = json.load(f)
    with open(os.path.join(a.data, "labels.csv")) as f:
        next(f)
        labels = {int(s): int(y) for s, y in (line.strip().split(",") for line in f)}
    held = [i for i in sorted(labels) if i % 5 == 0]
    correct, loss = 0, 0.0
    for i in held:
        with open(os.path.join(a.data, "samples", "%04d.txt" % i)) as f:
            x = [float(v) for v in f.read().split(",")]
        z = m["b"] + sum(w * v for w, v in zip(m["w"], x))
        p = 1 / (1 + math.exp(-max(-30.0, min(30.0, z))))
        correct += (p > 0.5) == bool(labels[i])
        loss -= math.log(max(1e-12, p if labels[i] else 1 - p))
    report = {"accuracy": correct / len(held), "loss": loss / len(held), "n": len(held)}
    with open(a.report, "w") as f:
        json.dump(report, f, indent=1)
    print("accuracy=%.4f loss=%.4f" % (report["accuracy"], report["loss"]))


if __name__ == "__main__":
    main()
