"""``ournn.utils.data.distributed``, as ``torch.utils.data.distributed``."""
from ...data.sampler import DistributedSampler  # noqa: F401
