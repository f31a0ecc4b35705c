"""The model zoo, by name: ``get_model("mlp")``. Every model is an ``nn.Sequential`` of
ournn layers taking (N, 1, 28, 28) images, so a checkpoint rebuilds it from its name.

The zoo registers its builders with ``ournn.nn.config`` (``register_zoo``) when it is
imported, so the architecture format resolves zoo names without importing this package.

| name | layers | parameters |
|---|---|---|
| ``mlp`` | 784-512-1024-10, ReLU | 937,482 |
| ``strided_cnn`` | conv 32@4x4/2, conv 64@3x3/2 p1, conv 128@3x3/2 p1, fc 2048-1024-10 | 2,201,322 |
| ``lenet5`` | LeCun 1998 with ReLU: conv 6@5x5 p2, avgpool, conv 16@5x5, avgpool, fc 120-84-10 | 61,706 |
| ``kerascnn`` | the Keras MNIST example: conv 32, conv 64, maxpool, dropout, fc 128 | 1,199,882 |
| ``cnn`` | our best: 3 x (conv 3x3-BN-ReLU-maxpool), 32-64-128 channels, fc 256, dropout | 390,890 |
| ``lstm`` | sequential MNIST: LSTM(28, 128) over the 28 rows, fc 128-10 of the last state | 82,186 |

Language models (``ournn.models.charlm``) take int64 characters (batch, time) and a hidden
state instead of images, and return ``(logits, hidden)``:

| name | layers | parameters |
|---|---|---|
| ``charlstm`` | Embedding(84, 64) -> LSTM(64, 512) -> Linear(512, 84) (sizes are arguments) | 1,232,212 |
| ``chargpt`` | 4 pre-norm causal transformer layers, d_model 128, 4 heads, context 128 | 831,316 |
"""
import warnings

from ..nn import (BatchNorm1d, BatchNorm2d, Conv2d, Dropout, Flatten, Linear, MaxPool2d, ReLU,
                  Sequential, AvgPool2d)
from ..nn.config import register_zoo
from .charlm import SEQUENCE_MODELS, CharLSTM, CharTransformer, chargpt, charlstm  # noqa: F401
from .seqmnist import RowLSTM, lstm  # noqa: F401


def mlp(in_features=784, hidden=(512, 1024), num_classes=10, dropout=0.0):
    layers = [Flatten()]
    width = in_features
    for h in hidden:
        layers += [Linear(width, h), ReLU()]
        if dropout:
            layers.append(Dropout(dropout))
        width = h
    layers.append(Linear(width, num_classes))
    return Sequential(*layers)


def strided_cnn(in_channels=1, num_classes=10):
    """Three strided convolutions (no pooling) and a two-layer head: the network the project
    started from, once called ``seed_alexnet`` (it has AlexNet's ReLUs and large first
    kernel, but none of its pooling, normalization, dropout or depth). Its layers:

    | layer | output (from 1x28x28) | parameters |
    |---|---|---|
    | Conv2d(1, 32, 4, stride=2), ReLU | 32x13x13 | 544 |
    | Conv2d(32, 64, 3, stride=2, padding=1), ReLU | 64x7x7 | 18,496 |
    | Conv2d(64, 128, 3, stride=2, padding=1), ReLU | 128x4x4 | 73,856 |
    | Flatten, Linear(2048, 1024), ReLU | 1024 | 2,098,176 |
    | Linear(1024, 10) | 10 | 10,250 |
    | total | | 2,201,322 |
    """
    return Sequential(
        Conv2d(in_channels, 32, 4, stride=2), ReLU(),            # 28 -> 13
        Conv2d(32, 64, 3, stride=2, padding=1), ReLU(),          # 13 -> 7
        Conv2d(64, 128, 3, stride=2, padding=1), ReLU(),         # 7 -> 4
        Flatten(), Linear(128 * 4 * 4, 1024), ReLU(),
        Linear(1024, num_classes))


def lenet5(in_channels=1, num_classes=10):
    return Sequential(
        Conv2d(in_channels, 6, 5, padding=2), ReLU(), AvgPool2d(2),     # 28 -> 14
        Conv2d(6, 16, 5), ReLU(), AvgPool2d(2),                          # 14 -> 10 -> 5
        Flatten(), Linear(16 * 5 * 5, 120), ReLU(), Linear(120, 84), ReLU(),
        Linear(84, num_classes))


def kerascnn(in_channels=1, num_classes=10):
    return Sequential(
        Conv2d(in_channels, 32, 3), ReLU(), Conv2d(32, 64, 3), ReLU(), MaxPool2d(2),
        Dropout(0.25), Flatten(), Linear(9216, 128), ReLU(), Dropout(0.5),
        Linear(128, num_classes))


def cnn(in_channels=1, num_classes=10, width=32, hidden=256, dropout=0.3):
    """Our best MNIST/Fashion-MNIST net for a CPU: three conv-BN-ReLU-maxpool stages
    (width, 2*width, 4*width channels; 28 -> 14 -> 7 -> 3) and a 256-unit head."""
    w1, w2, w3 = width, 2 * width, 4 * width

    def stage(cin, cout):
        return [Conv2d(cin, cout, 3, padding=1, bias=False), BatchNorm2d(cout), ReLU(),
                MaxPool2d(2)]
    return Sequential(*stage(in_channels, w1), *stage(w1, w2), *stage(w2, w3), Flatten(),
                      Linear(w3 * 3 * 3, hidden, bias=False), BatchNorm1d(hidden), ReLU(),
                      Dropout(dropout), Linear(hidden, num_classes))


MODELS = {"mlp": mlp, "strided_cnn": strided_cnn, "lenet5": lenet5, "kerascnn": kerascnn,
          "cnn": cnn}
MODELS["charlstm"] = charlstm
MODELS["chargpt"] = chargpt
MODELS["lstm"] = lstm
# old names, still loadable (checkpoints that name them) and accepted by ``--model``
ALIASES = {"seed_alexnet": "strided_cnn"}


def seed_alexnet(in_channels=1, num_classes=10):
    """Deprecated name of ``strided_cnn``."""
    warnings.warn("seed_alexnet is now called strided_cnn", DeprecationWarning, stacklevel=2)
    return strided_cnn(in_channels, num_classes)


def list_models():
    """The zoo's model names (without the deprecated aliases)."""
    return sorted(MODELS)


def canonical_name(name):
    """``name`` with a deprecated alias replaced by the model's name now."""
    return ALIASES.get(name, name)


def get_model(name, **kwargs):
    """Build zoo model ``name`` (see ``list_models()``; a deprecated alias such as
    ``seed_alexnet`` builds the model it names) with optional keyword arguments."""
    name = canonical_name(name)
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(list_models())}")
    model = MODELS[name](**kwargs)
    model.zoo_spec = {"name": name, "kwargs": kwargs}
    return model


for _name in [*MODELS, *ALIASES]:
    register_zoo(_name, get_model)
