"""``summary(model, input_shape)``: a Keras-style table of layers, output shapes and parameter
counts, computed from a trace (``ournn.tracing``) of one forward pass on zeros, so subclassed
models get real shapes too. When shapes stop fitting, the error names the layer."""
import numpy as np

from ..autograd.function import set_grad_enabled
from ..errors import ShapeError
from ..tensor import Tensor
from ..tracing import trace


def _shape_of(out):
    if isinstance(out, Tensor):
        return tuple(out.shape)
    if isinstance(out, (tuple, list)):
        return [_shape_of(o) for o in out]
    return None


def _fmt_shape(shape):
    if isinstance(shape, list):
        return ", ".join(_fmt_shape(s) for s in shape)
    return "(" + ", ".join(["N"] + [str(d) for d in shape[1:]]) + ")"


def leaf_names(model):
    """{id(module): name} of the model's leaf layers (the model itself when it has none)."""
    leaves = {id(m): name for name, m in model.named_modules() if not any(True for _ in
                                                                          m.children())}
    return leaves or {id(model): ""}


def traced_pass(model, x, grad=False):
    """Trace ``model(x)`` once in eval mode (mode restored), recording the autograd graph only
    if ``grad``. A ``ShapeError`` inside a leaf layer is raised again naming that layer and its
    input shape."""
    leaves = leaf_names(model)
    was_training = model.training
    model.eval()
    try:
        with set_grad_enabled(grad), trace(model) as tr:
            tr.output = model(x)
    except ShapeError as e:
        call = next((c for c in tr.failed if id(c.module) in leaves), None)
        if call is None:
            raise
        name = leaves[id(call.module)]
        in_shape = tuple(call.args[0].shape) if call.args and hasattr(call.args[0], "shape") \
            else "?"
        raise ShapeError(f"layer '{name}' ({call.type}) cannot take input "
                         f"of shape {_fmt_shape(in_shape)}: {e}") from e
    finally:
        model.train(was_training)
    return tr


def layer_table(model, input_shape, dtype=np.float32):
    """Rows (name, type, output shape, params, trainable) for every leaf layer, in call order,
    plus the activation element count for one sample. ``input_shape`` excludes the batch."""
    leaves = leaf_names(model)
    tr = traced_pass(model, Tensor(np.zeros((1,) + tuple(input_shape), dtype=dtype)))
    rows = []
    for call in sorted(tr.modules, key=lambda c: c.end):
        name = leaves.get(id(call.module))
        if name is None:
            continue
        own = list(call.module.parameters(recurse=False))
        rows.append({"name": name or call.type.lower(), "type": call.type,
                     "shape": _shape_of(call.output),
                     "params": sum(p.numel() for p in own),
                     "trainable": all(p.requires_grad for p in own) if own else None})
    return rows


def summary(model, input_shape=(1, 28, 28), print_fn=print, dtype=np.float32):
    """Print (with ``print_fn``) and return the summary table of ``model`` for one input of
    ``input_shape`` (without the batch dimension).

    Columns: Layer (type) | Output Shape | Param # | Trainable; then the totals: parameters,
    their memory, and the activation memory of one sample's forward pass."""
    rows = layer_table(model, input_shape, dtype)
    itemsize = np.dtype(dtype).itemsize
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    param_bytes = sum(p.numpy().nbytes for p in model.parameters()) + sum(
        np.asarray(b).nbytes for b in model.buffers())
    act_elems = sum(int(np.prod(r["shape"][1:])) for r in rows
                    if isinstance(r["shape"], tuple))
    headers = ("Layer (type)", "Output Shape", "Param #", "Trainable")
    body = [(f"{r['name']} ({r['type']})", _fmt_shape(r["shape"]) if r["shape"] else "-",
             f"{r['params']:,}", "" if r["trainable"] is None else
             ("yes" if r["trainable"] else "no")) for r in rows]
    widths = [max(len(h), *(len(b[i]) for b in body)) if body else len(h)
              for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths))
    rule = "=" * len(line)
    out = [f'Model: "{type(model).__name__}"   input {_fmt_shape((None,) + tuple(input_shape))}',
           rule, line, rule]
    for b in body:
        out.append("  ".join((c.rjust(w) if i == 2 else c.ljust(w))
                             for i, (c, w) in enumerate(zip(b, widths))))
    out += [rule, f"Total params: {total:,} ({_mem(param_bytes)} with buffers)",
            f"Trainable params: {trainable:,}", f"Non-trainable params: {total - trainable:,}",
            f"Activation memory for one sample (forward): {_mem(act_elems * itemsize)}", rule]
    text = "\n".join(out)
    if print_fn is not None:
        print_fn(text)
    return text


def _mem(nbytes):
    for unit in ("B", "KB", "MB", "GB"):
        if nbytes < 1024 or unit == "GB":
            return f"{nbytes:.1f} {unit}" if unit != "B" else f"{nbytes} B"
        nbytes /= 1024
