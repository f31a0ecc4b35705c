"""Devices, with PyTorch's names: ``ournn.device("cuda")``, ``ournn.cuda.is_available()``...

ournn computes on the CPU with NumPy and, where CuPy and an NVIDIA GPU are present, on the GPU
with CuPy (NumPy's API on GPU arrays). ``x.to("cuda")``, ``model.to("cuda")`` and
``device="cuda"`` move arrays there; every op then computes with the array's own module
(``backend.get_array_module``). Without CuPy or without a GPU, asking for ``"cuda"`` raises
one clear ``DeviceError`` saying which is missing and how to install CuPy.

A device other than the CPU is reached through a ``_Backend`` entry: its array module, its
array type and the three moves (to the device, to the host, which device an array is on).
``"cuda"`` finds CuPy's on first use; the test suite registers a stand-in for it with
``_register_backend`` (tests/device), so the device paths run in CI without a GPU.
"""
import types

from .errors import OurnnError


class DeviceError(OurnnError, RuntimeError):
    """A device that is not available was asked for."""


class device:  # noqa: N801 - PyTorch's name
    """A device: ``ournn.device("cpu")``, ``ournn.device("cpu", 0)``, ``ournn.device("cuda:0")``.

    Compares equal to its name (``x.device == "cpu"``)."""

    __slots__ = ("type", "index")

    def __init__(self, type, index=None):  # noqa: A002 - PyTorch's name
        if isinstance(type, device):
            type, index = type.type, type.index if index is None else index
        if not isinstance(type, str):
            raise TypeError(f"device(): expected a name such as 'cpu', got {type!r}")
        name = type.strip().lower()
        if ":" in name:
            name, _, idx = name.partition(":")
            try:
                index = int(idx)
            except ValueError:
                raise ValueError(f"device(): invalid device string {type!r}") from None
        if name not in _KNOWN:
            raise ValueError(f"device(): unknown device type {name!r}; expected one of "
                             f"{', '.join(sorted(_KNOWN))}")
        self.type = name
        self.index = index

    def __eq__(self, other):
        if isinstance(other, str):
            try:
                other = device(other)
            except (ValueError, TypeError):
                return False
        if not isinstance(other, device):
            return NotImplemented
        return self.type == other.type and (self.index is None or other.index is None
                                            or self.index == other.index)

    def __hash__(self):
        return hash(self.type)

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self):
        idx = "" if self.index is None else f", index={self.index}"
        return f"device(type='{self.type}'{idx})"

    def __reduce__(self):
        return (device, (self.type, self.index))


_KNOWN = {"cpu", "cuda", "mps", "xpu", "meta"}
CPU = device("cpu")


class _Backend:
    """How ournn reaches one kind of device: ``xp`` (its array module, NumPy's API),
    ``array_type``, ``to_device(array, index)`` (host or device array to device ``index``),
    ``to_host(array)`` (a NumPy copy), ``index_of(array)`` and ``count`` (devices present)."""

    def __init__(self, xp, array_type, to_device, to_host, index_of, count=1, name=""):
        self.xp, self.array_type = xp, array_type
        self.to_device, self.to_host, self.index_of = to_device, to_host, index_of
        self.count, self.name = count, name


_BACKENDS = {}          # device type -> _Backend, or the line saying why it is missing


def _register_backend(type_name, entry):
    """Testing hook: make ``entry`` (a ``_Backend``, or None to forget it) the device ournn
    moves to for ``type_name`` ("cuda"). Returns the previous entry, to restore it."""
    previous = _BACKENDS.get(type_name)
    if entry is None:
        _BACKENDS.pop(type_name, None)
    else:
        _BACKENDS[type_name] = entry
    return previous if isinstance(previous, _Backend) else None


CUPY_HINT = ("install CuPy for your CUDA version: pip install cupy-cuda12x (CUDA 12) or "
             "pip install cupy-cuda11x (CUDA 11)")


def _cupy_backend():
    """CuPy's entry, or the one line that says what is missing (CuPy, or a GPU)."""
    try:
        import cupy
    except ImportError:
        return f"CuPy is not installed ({CUPY_HINT})"
    except Exception as e:  # noqa: BLE001 - a broken CUDA install: say what it said
        return f"CuPy could not be imported ({type(e).__name__}: {e})"
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as e:  # noqa: BLE001
        return f"CuPy is installed but no NVIDIA GPU was found ({type(e).__name__}: {e})"
    if count < 1:
        return "CuPy is installed but no NVIDIA GPU was found"

    def to_device(a, index):
        with cupy.cuda.Device(index or 0):
            return cupy.array(a, copy=True) if isinstance(a, cupy.ndarray) else cupy.asarray(a)

    return _Backend(cupy, cupy.ndarray, to_device, cupy.asnumpy, lambda a: a.device.id,
                    count, "CuPy")


def _backend(type_name):
    """The ``_Backend`` of a device type, or a ``DeviceError`` (one line) naming what is
    missing."""
    entry = _BACKENDS.get(type_name)
    if entry is None and type_name == "cuda":
        entry = _BACKENDS["cuda"] = _cupy_backend()
    if isinstance(entry, _Backend):
        return entry
    if type_name == "cuda":
        why = entry
    else:
        why = "ournn computes on the CPU (NumPy) or on an NVIDIA GPU ('cuda', with CuPy)"
    raise DeviceError(f"device {type_name!r} is not available: {why}. Use device='cpu', or "
                      "write `device = 'cuda' if ournn.cuda.is_available() else 'cpu'`.")


DEFAULT = [CPU]        # the device new tensors are made on (``ournn.set_default_device``)


def default_device():
    return DEFAULT[0]


def check_device(dev):
    """The device ``dev`` names (``"cpu"``, ``"cuda:0"``, ``device("cpu")``, ``0``...), or
    one clear error for a device ournn cannot compute on here."""
    if dev is None:
        return CPU
    if isinstance(dev, int) and not isinstance(dev, bool):
        dev = device("cuda", dev)
    dev = device(dev)
    if dev.type == "cpu":
        return CPU
    entry = _backend(dev.type)
    index = 0 if dev.index is None else dev.index
    if not 0 <= index < entry.count:
        raise DeviceError(f"device {str(dev)!r} is not available: {entry.count} "
                          f"{dev.type} device(s) present")
    return device(dev.type, index)


def device_of(array):
    """The device an array lives on (the CPU for NumPy arrays and scalars)."""
    for name, entry in _BACKENDS.items():
        if isinstance(entry, _Backend) and isinstance(array, entry.array_type):
            return device(name, entry.index_of(array))
    return CPU


def to_device(array, dev):
    """``array`` on device ``dev`` (a ``device`` from ``check_device``): the array itself
    when it is there already, else a copy there."""
    here = device_of(array)
    if here.type == dev.type and (dev.type == "cpu" or here.index == dev.index):
        return array
    if here.type != "cpu":
        array = _backend(here.type).to_host(array)
    if dev.type == "cpu":
        return array
    return _backend(dev.type).to_device(array, dev.index)


def to_host(array):
    """A NumPy array of ``array`` (the array itself when it is one already)."""
    here = device_of(array)
    return array if here.type == "cpu" else _backend(here.type).to_host(array)


def array_module(dev):
    """The array module of device ``dev`` (NumPy for the CPU)."""
    if dev is None or device(dev).type == "cpu":
        import numpy
        return numpy
    return _backend(device(dev).type).xp


def _cuda_available():
    try:
        _backend("cuda")
    except DeviceError:
        return False
    return True


def _cuda_count():
    return _backend("cuda").count if _cuda_available() else 0


def _false(*args, **kwargs):
    return False


def _current_device():
    _backend("cuda")
    return 0


def _device_name(device=None):
    return _backend("cuda").name or "cuda"


def _synchronize(device=None):
    entry = _BACKENDS.get("cuda")
    if isinstance(entry, _Backend) and hasattr(entry.xp, "cuda"):
        entry.xp.cuda.Device().synchronize()


cuda = types.ModuleType("ournn.cuda", "GPU queries, as ``torch.cuda``: true when CuPy and an "
                        "NVIDIA GPU are present.")
cuda.is_available = _cuda_available
cuda.device_count = _cuda_count
cuda.current_device = _current_device
cuda.get_device_name = _device_name
cuda.manual_seed = lambda seed: None        # ournn.manual_seed seeds the device's generator too
cuda.manual_seed_all = lambda seed: None
cuda.synchronize = _synchronize
cuda.empty_cache = lambda: None
cuda.is_bf16_supported = _false

mps = types.ModuleType("ournn.backends.mps", "Apple GPU queries, as ``torch.backends.mps``.")
mps.is_available = _false
mps.is_built = _false
cudnn = types.ModuleType("ournn.backends.cudnn", "As ``torch.backends.cudnn`` (no effect).")
cudnn.is_available = _false     # no cuDNN calls: CuPy's kernels
cudnn.benchmark = False
cudnn.deterministic = False
cudnn.enabled = False
backends = types.ModuleType("ournn.backends", "As ``torch.backends``.")
backends.mps, backends.cudnn = mps, cudnn

accelerator = types.ModuleType("ournn.accelerator", "As ``torch.accelerator``: CUDA or none.")
accelerator.is_available = _cuda_available
accelerator.current_accelerator = lambda check_available=False: (
    device("cuda") if _cuda_available() else None)
accelerator.device_count = _cuda_count
