"""Upsampling layers over ``F.interpolate``."""
from . import functional as F
from .config import check_float, check_int
from .module import Module


class Upsample(Module):
    """Resize (N, C, L) or (N, C, H, W) input to ``size`` or by ``scale_factor``; modes
    'nearest', 'nearest-exact', 'linear', 'bilinear' (with ``align_corners``), 'area'."""
    config_keys = ("size", "scale_factor", "mode", "align_corners", "recompute_scale_factor")

    def __init__(self, size=None, scale_factor=None, mode="nearest", align_corners=None,
                 recompute_scale_factor=None):
        layer = type(self).__name__
        if (size is None) == (scale_factor is None):
            raise ValueError(f"{layer}: give exactly one of size and scale_factor")
        if size is not None:
            for s in (size if isinstance(size, (list, tuple)) else (size,)):
                check_int(layer, "size", s)
            size = tuple(size) if isinstance(size, (list, tuple)) else size
        if scale_factor is not None:
            for f in (scale_factor if isinstance(scale_factor, (list, tuple))
                      else (scale_factor,)):
                check_float(layer, "scale_factor", f, low=0)
                if f <= 0:
                    raise ValueError(f"{layer}: scale_factor must be > 0, got {scale_factor!r}")
            scale_factor = tuple(float(f) for f in scale_factor) \
                if isinstance(scale_factor, (list, tuple)) else float(scale_factor)
        if mode not in F._INTERP_MODES:
            raise ValueError(f"{layer}: mode must be one of {', '.join(F._INTERP_MODES)}, got "
                             f"{mode!r}")
        if align_corners is not None and mode not in ("linear", "bilinear"):
            raise ValueError(f"{layer}: align_corners can only be set with mode 'linear' or "
                             f"'bilinear', got mode {mode!r}")
        super().__init__()
        self.size, self.scale_factor, self.mode = size, scale_factor, mode
        self.align_corners = None if align_corners is None else bool(align_corners)
        self.recompute_scale_factor = recompute_scale_factor

    def forward(self, x):
        return F.interpolate(x, self.size, self.scale_factor, self.mode, self.align_corners,
                             self.recompute_scale_factor)

    def extra_repr(self):
        what = f"scale_factor={self.scale_factor}" if self.size is None else f"size={self.size}"
        return f"{what}, mode={self.mode!r}"


class UpsamplingNearest2d(Upsample):
    config_keys = ("size", "scale_factor")

    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, "nearest")


class UpsamplingBilinear2d(Upsample):
    """Bilinear upsampling with ``align_corners=True`` (as PyTorch's)."""
    config_keys = ("size", "scale_factor")

    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, "bilinear", align_corners=True)
