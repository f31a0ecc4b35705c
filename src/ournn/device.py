"""Devices, with PyTorch's names: ``ournn.device("cpu")``, ``ournn.cuda.is_available()``...

ournn computes on the CPU with NumPy. The names are here so that PyTorch code that asks which
device to use (``device = "cuda" if torch.cuda.is_available() else "cpu"``) and moves tensors
and modules there (``x.to(device)``, ``model.to(device)``) runs unchanged: every such script
picks the CPU. Asking for a GPU explicitly raises one clear error.
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


def check_device(dev):
    """The device ``dev`` names (``"cpu"``, ``device("cpu")``, ``0``...), or one clear error for
    a device ournn cannot compute on."""
    if dev is None:
        return CPU
    if isinstance(dev, int) and not isinstance(dev, bool):
        dev = device("cuda", dev)
    dev = device(dev)
    if dev.type != "cpu":
        raise DeviceError(
            f"device {str(dev)!r} is not available: ournn computes on the CPU with NumPy. "
            "Use device='cpu' (or write `device = 'cuda' if ournn.cuda.is_available() else "
            "'cpu'`, which picks the CPU here).")
    return CPU


def _false(*args, **kwargs):
    return False


def _zero(*args, **kwargs):
    return 0


def _no_gpu(*args, **kwargs):
    raise DeviceError("no GPU: ournn computes on the CPU with NumPy "
                      "(ournn.cuda.is_available() is False)")


cuda = types.ModuleType("ournn.cuda", "GPU queries, as ``torch.cuda``: no GPU is available.")
cuda.is_available = _false
cuda.device_count = _zero
cuda.current_device = _no_gpu
cuda.get_device_name = _no_gpu
cuda.manual_seed = lambda seed: None        # seeds nothing: there is no GPU generator
cuda.manual_seed_all = lambda seed: None
cuda.synchronize = lambda device=None: None
cuda.empty_cache = lambda: None
cuda.is_bf16_supported = _false

mps = types.ModuleType("ournn.backends.mps", "Apple GPU queries, as ``torch.backends.mps``.")
mps.is_available = _false
mps.is_built = _false
cudnn = types.ModuleType("ournn.backends.cudnn", "As ``torch.backends.cudnn`` (no effect).")
cudnn.is_available = _false
cudnn.benchmark = False
cudnn.deterministic = False
cudnn.enabled = False
backends = types.ModuleType("ournn.backends", "As ``torch.backends``.")
backends.mps, backends.cudnn = mps, cudnn

accelerator = types.ModuleType("ournn.accelerator", "As ``torch.accelerator``: none here.")
accelerator.is_available = _false
accelerator.current_accelerator = lambda check_available=False: None
accelerator.device_count = _zero
