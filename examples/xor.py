"""Logic gates: AND, OR and NAND are learned by a single perceptron; XOR needs a hidden layer.

Run: python examples/xor.py
"""
import numpy as np

import ournn
import ournn.nn as nn
import ournn.nn.functional as F

X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
GATES = {
    "AND": np.array([0, 0, 0, 1], dtype=np.float32),
    "OR": np.array([0, 1, 1, 1], dtype=np.float32),
    "NAND": np.array([1, 1, 1, 0], dtype=np.float32),
    "XOR": np.array([0, 1, 1, 0], dtype=np.float32),
}


def train(model, y, steps=2000, lr=0.5):
    opt = ournn.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    for _ in range(steps):
        logits = model(X).reshape(-1)
        loss = F.binary_cross_entropy_with_logits(logits, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with ournn.no_grad():
        predictions = (model(X).reshape(-1).numpy() > 0).astype(np.float32)
    return loss.item(), predictions


def main(steps=2000, seed=0):
    ournn.manual_seed(seed)
    results = {}
    for gate, y in GATES.items():
        perceptron = nn.Linear(2, 1)                  # one unit: a line through the plane
        loss, pred = train(perceptron, y, steps)
        results[("perceptron", gate)] = bool((pred == y).all())
        print(f"perceptron  {gate:4s}: predictions {pred.astype(int)}  target {y.astype(int)}  "
              f"loss {loss:.4f}  {'learned' if (pred == y).all() else 'NOT learned'}")
    mlp = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 1))
    loss, pred = train(mlp, GATES["XOR"], steps)
    results[("mlp", "XOR")] = bool((pred == GATES["XOR"]).all())
    print(f"2-layer net XOR : predictions {pred.astype(int)}  target "
          f"{GATES['XOR'].astype(int)}  loss {loss:.4f}")
    return results


if __name__ == "__main__":
    main()
