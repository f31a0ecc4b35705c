from ..container import ModuleDict, ParameterDict, ParameterList  # noqa: F401
from ..module import ModuleList, Sequential  # noqa: F401
