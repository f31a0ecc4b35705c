"""Overfitting and its cures, on 1,000 MNIST training images.

A wide MLP memorises a small training set: training accuracy reaches 100% while test accuracy
stalls. Weight decay, dropout and batch norm each narrow the gap. Writes overfitting.png
(train and test accuracy per epoch, one panel per variant) and prints the final figures.

Run: python examples/overfitting.py [out_folder]
"""
import sys

import ournn
import ournn.nn as nn
from ournn.data import MNIST


def mlp(dropout=0.0, batch_norm=False, width=512):
    layers = [nn.Flatten()]
    size = 784
    for _ in range(3):
        layers.append(nn.Linear(size, width))
        if batch_norm:
            layers.append(nn.BatchNorm1d(width))
        layers.append(nn.ReLU())
        if dropout:
            layers.append(nn.Dropout(dropout))
        size = width
    layers.append(nn.Linear(size, 10))
    return nn.Sequential(*layers)


VARIANTS = {
    "plain": dict(model={}, weight_decay=0.0),
    "weight decay": dict(model={}, weight_decay=1.0),
    "dropout 0.5": dict(model={"dropout": 0.5}, weight_decay=0.0),
    "batch norm": dict(model={"batch_norm": True}, weight_decay=0.0),
}


def main(out=".", epochs=30, train_size=1000, test_size=5000, plots=True):
    x, y = MNIST(train=True).arrays()
    tx, ty = MNIST(train=False).arrays()
    x, y, tx, ty = x[:train_size], y[:train_size], tx[:test_size], ty[:test_size]
    histories = {}
    for name, spec in VARIANTS.items():
        ournn.manual_seed(0)
        model = mlp(**spec["model"])
        opt = ournn.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=spec["weight_decay"])
        history = model.fit((x, y), epochs=epochs, batch_size=50, optimizer=opt,
                            validation_data=(tx, ty), verbose=0, seed=0)
        histories[name] = history
        h = history.history
        print(f"{name:13s} train {100 * h['accuracy'][-1]:6.2f}%   test "
              f"{100 * h['val_accuracy'][-1]:6.2f}%   gap "
              f"{100 * (h['accuracy'][-1] - h['val_accuracy'][-1]):5.2f} points")
    if plots:
        ournn.viz.plot_comparison(histories, f"{out}/overfitting.png",
                                  keys=("accuracy", "val_accuracy"), panels="runs",
                                  title="Train vs test accuracy on 1,000 training images")
    return histories


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else ".")
