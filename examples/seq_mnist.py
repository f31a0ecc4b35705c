"""Sequential MNIST with the plain PyTorch-style loop: an LSTM reads each 28x28 image row by
row (28 steps of 28 pixels) and a Linear layer classifies its last hidden state.

Run: python examples/seq_mnist.py            (about 98.5-99% test accuracy in 8-10 epochs)
The same model from the command line: ournn train --model lstm --dataset mnist
"""
import time

import ournn
import ournn.nn as nn
import ournn.nn.functional as F
from ournn.data import MNIST, ArrayDataset, DataLoader
from ournn.models import get_model


def main(epochs=10, hidden=128, lr=2e-3, batch_size=128, clip=1.0, limit=None, verbose=True):
    ournn.manual_seed(0)
    x, y = MNIST(train=True).arrays()
    tx, ty = MNIST(train=False).arrays()
    if limit:
        x, y, tx, ty = x[:limit], y[:limit], tx[:limit], ty[:limit]
    loader = DataLoader(ArrayDataset(x, y), batch_size=batch_size, shuffle=True)
    model = get_model("lstm", hidden_size=hidden)    # (N, 1, 28, 28) -> 28 rows -> 10 logits
    opt = ournn.optim.Adam(model.parameters(), lr=lr)
    sched = ournn.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs * len(loader))
    history = []
    for epoch in range(epochs):
        start, total = time.perf_counter(), 0.0
        model.train()
        for xb, yb in loader:
            loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), clip)   # LSTMs like a bounded step
            opt.step()
            sched.step()
            total += loss.item() * len(yb)
        model.eval()
        with ournn.no_grad():
            acc = float((model(tx).numpy().argmax(axis=1) == ty).mean())
        seconds = time.perf_counter() - start
        history.append({"epoch": epoch + 1, "loss": total / len(x), "test_accuracy": acc,
                        "seconds": seconds})
        if verbose:
            print(f"epoch {epoch + 1}: train loss {total / len(x):.4f}  test accuracy "
                  f"{100 * acc:.2f}%  ({seconds:.1f}s)", flush=True)
    return history


if __name__ == "__main__":
    main()
