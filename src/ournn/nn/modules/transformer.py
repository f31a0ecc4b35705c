from ..transformer import (Transformer, TransformerEncoder,  # noqa: F401
                           TransformerEncoderLayer)
