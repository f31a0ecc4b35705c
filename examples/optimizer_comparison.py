"""SGD, Momentum, AdaGrad, RMSProp and Adam on the same problem: one plot of the loss.

The same MLP, the same initial weights and the same batches (3,000 MNIST images) for each
optimizer; writes optimizers.png (training loss per step, smoothed) and prints the final loss
and test accuracy of each.

Run: python examples/optimizer_comparison.py [out_folder]
"""
import sys

import ournn
import ournn.nn as nn
from ournn.data import MNIST

OPTIMIZERS = {
    "SGD": lambda p: ournn.optim.SGD(p, lr=0.05),
    "Momentum": lambda p: ournn.optim.SGD(p, lr=0.05, momentum=0.9),
    "AdaGrad": lambda p: ournn.optim.Adagrad(p, lr=0.02),
    "RMSProp": lambda p: ournn.optim.RMSprop(p, lr=1e-3),
    "Adam": lambda p: ournn.optim.Adam(p, lr=1e-3),
}


def main(out=".", epochs=3, train_size=3000, plots=True):
    x, y = MNIST(train=True).arrays()
    tx, ty = MNIST(train=False).arrays()
    x, y = x[:train_size], y[:train_size]
    histories = {}
    for name, make in OPTIMIZERS.items():
        ournn.manual_seed(0)                      # same initial weights for everyone
        model = nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(),
                              nn.Linear(256, 10))
        history = model.fit((x, y), epochs=epochs, batch_size=32,
                            optimizer=make(model.parameters()), verbose=0, seed=0)
        histories[name] = history
        acc = model.evaluate((tx, ty))["accuracy"]
        print(f"{name:9s} final training loss {history.history['loss'][-1]:.4f}   "
              f"test accuracy {100 * acc:.2f}%")
    if plots:
        ournn.viz.plot_comparison(histories, f"{out}/optimizers.png", keys=("loss",),
                                  per_step=True, title="Training loss per step (smoothed)")
    return histories


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else ".")
