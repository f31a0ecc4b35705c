"""Netron's categories of layers and ops, and their colours (grapher.css): fill, text, border."""

STYLES = {
    "Layer": ("#335588", "#ffffff", "#26406a"),
    "Activation": ("#702921", "#ffffff", "#521e18"),
    "Pool": ("#335533", "#ffffff", "#243d24"),
    "Normalization": ("#2f3d4c", "#ffffff", "#1f2933"),
    "Dropout": ("#7a7a7a", "#ffffff", "#5e5e5e"),
    "Shape": ("#ececec", "#222222", "#9a9a9a"),
    "Loss": ("#9c5a12", "#ffffff", "#73420c"),
    "Op": ("#ffffff", "#222222", "#8a8a8a"),
    "Data": ("#ffffff", "#222222", "#333333"),
    "Tensor": ("#fde6c8", "#222222", "#c88a3c"),
    "Parameter": ("#dcefd6", "#222222", "#6a9f5b"),
}
_LAYERS = {"Linear", "Bilinear", "Embedding", "MatMul", "RNN", "LSTM", "GRU", "RNNCell",
           "LSTMCell", "GRUCell", "MultiheadAttention"}
_ACTIVATIONS = {"ReLU", "ReLU6", "LeakyReLU", "PReLU", "ELU", "SELU", "CELU", "GELU", "SiLU",
                "Mish", "Sigmoid", "Hardsigmoid", "Tanh", "Hardtanh", "Softplus", "Softsign",
                "Softmax", "LogSoftmax", "Softmin", "Threshold"}
_SHAPES = {"Flatten", "Unflatten", "Reshape", "View", "Transpose", "Permute", "Identity",
           "GetItem", "Concatenate", "Stack", "Split", "Pad", "BroadcastTo", "Cast",
           "Squeeze", "Unsqueeze", "Upsample"}


def category(type_name):
    """Netron's category of a layer or op type name: Layer, Activation, Pool, Normalization,
    Dropout, Shape, Loss or Op."""
    n = type_name.lstrip("_")
    if n in _ACTIVATIONS:
        return "Activation"
    if "Pool" in n:
        return "Pool"
    if "Norm" in n:
        return "Normalization"
    if "Dropout" in n:
        return "Dropout"
    if n in _SHAPES:
        return "Shape"
    if n.endswith("Loss") or "CrossEntropy" in n or n in ("MSE", "NLL"):
        return "Loss"
    if n in _LAYERS or n.startswith("Conv"):
        return "Layer"
    return "Op"


