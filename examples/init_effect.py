"""Why initialisation matters: activations of a deep net, layer by layer, under four inits.

Ten Linear(256, 256) layers with tanh (or ReLU) on a batch of MNIST images. With weights too
small the signal dies out layer after layer; too large and tanh saturates at +-1 (ReLU
explodes). Xavier (for tanh) and He (for ReLU) keep the spread the same at every depth.
Writes init_<scheme>.png (histograms) into the output folder and prints the std per layer.

Run: python examples/init_effect.py [out_folder]
"""
import sys

import numpy as np

import ournn
import ournn.nn as nn
from ournn.data import MNIST

SCHEMES = {
    "small N(0, 0.01)": lambda w: nn.init.normal_(w, 0.0, 0.01),
    "large N(0, 1)": lambda w: nn.init.normal_(w, 0.0, 1.0),
    "Xavier": lambda w: nn.init.xavier_normal_(w, gain=nn.init.calculate_gain("tanh")),
    "He": lambda w: nn.init.kaiming_normal_(w, nonlinearity="relu"),
}


def deep_net(init, activation, depth=10, width=256):
    layers = [nn.Flatten(), nn.Linear(784, width)]
    for _ in range(depth - 1):
        layers += [activation(), nn.Linear(width, width)]
    layers.append(activation())
    net = nn.Sequential(*layers)
    for m in net.modules():
        if isinstance(m, nn.Linear):
            init(m.weight)
            nn.init.zeros_(m.bias)
    return net


def main(out=".", n=1000, plots=True):
    x, _ = MNIST(train=False).arrays()
    x = x[:n]
    results = {}
    for scheme, init in SCHEMES.items():
        activation = nn.ReLU if scheme == "He" else nn.Tanh
        ournn.manual_seed(0)
        net = deep_net(init, activation)
        acts = ournn.viz.activation_histograms(net, x, layers=[activation])
        stds = [float(np.std(a)) for a in acts.values()]
        results[scheme] = stds
        print(f"{scheme:17s} ({activation.__name__}) activation std per layer: "
              + " ".join(f"{s:.3f}" for s in stds))
        if plots:
            name = scheme.split()[0].lower()
            ournn.viz.plot_histograms(acts, f"{out}/init_{name}.png",
                                      title=f"Activations with {scheme} init "
                                            f"({activation.__name__})", sharex=True)
    return results


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else ".")
