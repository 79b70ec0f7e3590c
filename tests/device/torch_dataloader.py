"""torch_dataloader.py - a small real training job whose DataLoader workers read sample files.

Used by tests (CPU) and the GPU device check: run under `trail run`, trail must record every
sample file the worker processes read, the model file written, and the worker processes.
usage: torch_dataloader.py DATA_DIR OUT_FILE [NUM_SAMPLES] [WORKERS]
(the samples are generated first when DATA_DIR has no labels.txt)
"""
import os
import sys

import torch
from torch.utils.data import DataLoader, Dataset


class Files(Dataset):
    def __init__(self, root):
        self.paths = sorted(os.path.join(root, f) for f in os.listdir(root) if f.endswith(".bin"))
        with open(os.path.join(root, "labels.txt")) as f:
            self.labels = [int(x) for x in f.read().split()]

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, i):
        with open(self.paths[i], "rb") as f:  # read inside the worker process
            x = torch.frombuffer(bytearray(f.read()), dtype=torch.float32).clone()
        return x, self.labels[i]


def main():
    root, out = sys.argv[1], sys.argv[2]
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 256
    workers = int(sys.argv[4]) if len(sys.argv) > 4 else 2
    os.makedirs(root, exist_ok=True)
    if not os.path.exists(os.path.join(root, "labels.txt")):
        make_data(root, n)
    train(root, out, workers)


def make_data(root, n):
    """Writes n samples (only when the directory holds none yet)."""
    g = torch.Generator().manual_seed(0)
    labels = []
    for i in range(n):
        x = torch.randn(32, generator=g)
        labels.append(int(x[:4].sum() > 0))
        with open(os.path.join(root, "sample_%04d.bin" % i), "wb") as f:
            f.write(x.numpy().tobytes())
    with open(os.path.join(root, "labels.txt"), "w") as f:
        f.write(" ".join(map(str, labels)))


def train(root, out, workers):
    dev = "cuda" if torch.cuda.is_available() else "cpu"
    model = torch.nn.Sequential(torch.nn.Linear(32, 64), torch.nn.ReLU(), torch.nn.Linear(64, 2)).to(dev)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    loader = DataLoader(Files(root), batch_size=32, shuffle=True, num_workers=workers)
    for epoch in range(3):
        total = 0.0
        for x, y in loader:
            x, y = x.to(dev), y.to(dev)
            loss = torch.nn.functional.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item()
        print("epoch %d loss=%.4f device=%s" % (epoch, total / len(loader), dev), flush=True)
    torch.save(model.state_dict(), out)


if __name__ == "__main__":
    main()
