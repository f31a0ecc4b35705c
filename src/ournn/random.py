"""One random generator for initialisation, dropout and data shuffling.

``ournn.manual_seed(n)`` makes all of them reproducible, like ``torch.manual_seed``.
"""
import numpy as np

_generator = np.random.default_rng()


def manual_seed(seed):
    """Seed the generator that init, dropout and loaders draw from. Returns the generator."""
    global _generator
    _generator = np.random.default_rng(int(seed))
    return _generator


def get_generator():
    """The generator in use (a ``numpy.random.Generator``)."""
    return _generator


def get_state():
    """The generator's state as a JSON-able dict (for checkpoints)."""
    return _generator.bit_generator.state


def set_state(state):
    _generator.bit_generator.state = state

