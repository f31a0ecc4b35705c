"""ONNX export: ``ournn.onnx.export(model, args, "model.onnx")``, as ``torch.onnx.export``.

The exporter follows what one eval-mode forward pass of the model actually ran, as the model
tracer (``ournn.tracing``) records it: every op applied, inside a layer or between layers (the
``+`` of a residual block, a ``reshape``, a ``cat``), is mapped to ONNX nodes by one small
function per op type (``ournn.onnx.convert.CONVERTERS``). Subclassed models export as well as
``Sequential`` ones; an op without a mapping raises ``ExportError`` naming it and the module
it ran in.

The batch dimension (axis 0 of every input) is symbolic by default: the model is traced a
second time with other sizes on the dynamic axes, and every number that changed with them
(a reshape's target, an output's shape) is written so that it follows the input. Parameters
become initializers under their dotted names (``0.weight``).

Needs the optional extras: ``pip install 'ournn[onnx]'`` (``onnx``; ``onnxruntime`` to run the
exported file). Op coverage: ``docs/onnx.md``.
"""
import os

__all__ = ["export", "ExportError", "DEFAULT_OPSET"]

from .common import DEFAULT_OPSET, ExportError


def _require_onnx():
    try:
        import onnx
    except ImportError:
        raise ImportError("ONNX export needs the onnx package: pip install 'ournn[onnx]'") \
            from None
    return onnx


def export(model, args, f, input_names=None, output_names=None, dynamic_axes=None,
           opset_version=None, do_constant_folding=True, export_params=True, verbose=False):
    """Export ``model`` to ONNX, as ``torch.onnx.export``.

    ``args``: the example input (a Tensor or an array) or a tuple of them; ``f``: a path or a
    binary file object. ``input_names``/``output_names`` name the graph's inputs and outputs
    (default ``input``/``output``, numbered when there are several). ``dynamic_axes``: as
    PyTorch's, ``{name: [axis, ...]}`` or ``{name: {axis: "symbol"}}``; None (the default)
    makes axis 0 of every input (the batch) symbolic, ``{}`` exports every shape as traced.
    ``opset_version``: 13 to the installed onnx's newest (default 18). ``do_constant_folding``
    computes the ops that depend on no input at export time. ``export_params=False`` makes
    the parameters graph inputs instead of initializers. ``verbose`` prints the graph.

    Returns the ``onnx.ModelProto`` (also written to ``f``)."""
    onnx = _require_onnx()
    from .convert import build_model
    proto = build_model(model, args, input_names=input_names, output_names=output_names,
                        dynamic_axes=dynamic_axes, opset_version=opset_version,
                        do_constant_folding=do_constant_folding, export_params=export_params)
    if verbose:
        print(onnx.helper.printable_graph(proto.graph))
    if isinstance(f, (str, os.PathLike)):
        onnx.save(proto, os.fspath(f))
    else:
        f.write(proto.SerializeToString())
    return proto
