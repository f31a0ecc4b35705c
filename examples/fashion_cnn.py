"""Fashion-MNIST with our best CNN (same code as mnist_cnn.py, another dataset).

Run: python examples/fashion_cnn.py
"""
import os
import sys

from ournn.data import FashionMNIST

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mnist_cnn import main as cnn_main  # noqa: E402


def main(epochs=15, limit=None, out="runs/example-fashion"):
    return cnn_main(epochs=epochs, limit=limit, dataset=FashionMNIST, out=out)


if __name__ == "__main__":
    main()
