"""One random generator for initialisation, dropout, data shuffling and the random factories.

``ournn.manual_seed(n)`` makes all of them reproducible, like ``torch.manual_seed``. An
``ournn.Generator`` is a separate stream, for the ``generator=`` argument of the factories.

On a GPU the random numbers come from the device's own generator (``get_generator(xp)``,
CuPy's), made on first use and seeded from ``manual_seed``, so a dropout mask is drawn where
it is used; the CPU's stream is untouched by it.
"""
import numpy as np

_generator = np.random.default_rng()
_initial_seed = [None]
_device_generators = {}     # array module -> its generator, seeded from manual_seed


def manual_seed(seed):
    """Seed the generator that init, dropout, loaders and the random factories draw from.
    Returns the generator."""
    global _generator
    _generator = np.random.default_rng(int(seed))
    _initial_seed[0] = int(seed)
    _device_generators.clear()      # remade from the new seed on first use
    return _generator


def seed():
    """Seed the generator from the operating system's entropy; returns the seed."""
    s = int(np.random.SeedSequence().entropy % (2 ** 63))
    manual_seed(s)
    return s


def initial_seed():
    """The seed last given to ``manual_seed`` (or chosen by ``seed``), else None."""
    return _initial_seed[0]


def get_generator(xp=None):
    """The generator in use: NumPy's (a ``numpy.random.Generator``), or with ``xp`` a device's
    array module, that device's (``xp.random.default_rng``), seeded from ``manual_seed``."""
    if xp is None or xp is np:
        return _generator
    g = _device_generators.get(xp)
    if g is None:
        seed = _initial_seed[0]
        if seed is None:
            seed = int(np.random.SeedSequence().entropy % (2 ** 63))
        g = _device_generators[xp] = xp.random.default_rng(seed)
    return g


def get_state():
    """The generator's state as a JSON-able dict (for checkpoints)."""
    return _generator.bit_generator.state


def set_state(state):
    _generator.bit_generator.state = state


get_rng_state = get_state
set_rng_state = set_state


class Generator:
    """A random stream of its own, as ``torch.Generator``: pass it as ``generator=`` to the
    random factories. ``manual_seed`` returns the generator, so
    ``g = ournn.Generator().manual_seed(0)`` works."""

    def __init__(self, device="cpu"):
        from .device import check_device
        self.device = check_device(device)
        self._seed = int(np.random.SeedSequence().entropy % (2 ** 63))
        self.numpy_generator = np.random.default_rng(self._seed)

    def manual_seed(self, seed):
        self._seed = int(seed)
        self.numpy_generator = np.random.default_rng(self._seed)
        return self

    def seed(self):
        self.manual_seed(int(np.random.SeedSequence().entropy % (2 ** 63)))
        return self._seed

    def initial_seed(self):
        return self._seed

    def get_state(self):
        return self.numpy_generator.bit_generator.state

    def set_state(self, state):
        self.numpy_generator.bit_generator.state = state
        return self


def seed_from(generator):
    """A seed for the loader's order: drawn from ``generator`` if given (an ournn or NumPy
    generator), else from ournn's global generator."""
    if generator is None:
        return int(get_generator().integers(2**63))
    draw = getattr(generator, "integers", None)
    if draw is None:
        inner = getattr(generator, "rng", None) or getattr(generator, "_rng", None)
        draw = getattr(inner, "integers", None)
    if draw is None:
        if hasattr(generator, "initial_seed"):
            return int(generator.initial_seed())
        raise TypeError(f"DataLoader: generator must be an ournn.Generator or a NumPy "
                        f"Generator, got {type(generator).__name__}")
    return int(draw(2**63))
