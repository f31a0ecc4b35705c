"""``summary(model, input_shape)``: a Keras-style table of layers, output shapes and parameter
counts, computed by running one forward pass on zeros with hooks (so subclassed models get
real shapes too). When shapes stop fitting, the error names the layer."""
import numpy as np

from ..autograd.function import no_grad
from ..errors import ShapeError
from ..tensor import Tensor


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


def layer_table(model, input_shape, dtype=np.float32):
    """Rows (name, type, output shape, params, trainable) for every leaf layer, in call order,
    plus the activation element count for one sample. ``input_shape`` excludes the batch."""
    rows = []
    handles = []
    leaves = [(name, m) for name, m in model.named_modules() if not list(m.children())]
    if not leaves:
        leaves = [("", model)]

    def make_hook(name):
        def hook(module, inputs, output):
            shape = _shape_of(output)
            own = list(module.parameters(recurse=False))
            rows.append({"name": name or type(module).__name__.lower(),
                         "type": type(module).__name__, "shape": shape,
                         "params": sum(p.numel() for p in own),
                         "trainable": all(p.requires_grad for p in own) if own else None})
        return hook

    current = {"name": None}

    def make_pre(name, module):
        original = module.forward

        def forward(*args, **kwargs):
            current["name"] = name
            try:
                return original(*args, **kwargs)
            except ShapeError as e:
                in_shape = tuple(args[0].shape) if args and hasattr(args[0], "shape") else "?"
                raise ShapeError(f"layer '{name}' ({type(module).__name__}) cannot take input "
                                 f"of shape {_fmt_shape(in_shape)}: {e}") from e
        return forward

    patched = []
    for name, m in leaves:
        handles.append(m.register_forward_hook(make_hook(name)))
        m.forward = make_pre(name, m)
        patched.append(m)
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            model(Tensor(np.zeros((1,) + tuple(input_shape), dtype=dtype)))
    finally:
        for h in handles:
            h.remove()
        for m in patched:
            del m.__dict__["forward"]
        model.train(was_training)
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
