from ..sparse import Embedding  # noqa: F401
