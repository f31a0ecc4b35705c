"""MNIST with an MLP and the plain PyTorch-style loop (no fit): what every step does.

Run: python examples/mnist_mlp.py
"""
import time

import ournn
import ournn.nn as nn
import ournn.nn.functional as F
from ournn.data import MNIST, ArrayDataset, DataLoader


def main(epochs=5, limit=None):
    ournn.manual_seed(0)
    x, y = MNIST(train=True).arrays()
    tx, ty = MNIST(train=False).arrays()
    if limit:
        x, y, tx, ty = x[:limit], y[:limit], tx[:limit], ty[:limit]
    loader = DataLoader(ArrayDataset(x, y), batch_size=128, shuffle=True)
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 1024),
                          nn.ReLU(), nn.Linear(1024, 10))
    opt = ournn.optim.Adam(model.parameters(), lr=1e-3)
    sched = ournn.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs * len(loader))
    for epoch in range(epochs):
        start, total = time.perf_counter(), 0.0
        model.train()
        for xb, yb in loader:
            loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(yb)
        model.eval()
        with ournn.no_grad():
            acc = (model(tx).numpy().argmax(axis=1) == ty).mean()
        print(f"epoch {epoch + 1}: train loss {total / len(x):.4f}  test accuracy "
              f"{100 * acc:.2f}%  ({time.perf_counter() - start:.1f}s)")
    return float(acc)


if __name__ == "__main__":
    main()
