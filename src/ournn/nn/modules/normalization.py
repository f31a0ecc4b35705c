from ..normalization import GroupNorm, LayerNorm  # noqa: F401
