"""What the exporter's package and its converters share (``convert`` imports onnx itself;
this does not, so ``ournn.onnx`` imports without the extra)."""

DEFAULT_OPSET = 18


class ExportError(RuntimeError):
    """The model ran an op (or used a value) that the ONNX exporter cannot express."""
