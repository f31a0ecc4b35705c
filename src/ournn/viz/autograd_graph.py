"""The autograd graph of one forward pass as a ``Graph``, read back from its output by
``ournn.tracing.trace_graph``: ops are boxes, tensors ellipses (parameters green)."""
from ..errors import GraphError
from ..tracing import tensors as _tensors
from ..tracing import trace_graph
from .dot import Graph
from .styles import category


def _fmt_tensor_shape(shape):
    return "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def _param_names(params):
    if params is None:
        return {}
    if hasattr(params, "named_parameters"):
        params = params.named_parameters()
    items = params.items() if isinstance(params, dict) else params
    return {id(p): name for name, p in items}


# ----------------------------------------------------------------------------------------------
# The autograd graph
# ----------------------------------------------------------------------------------------------
def _autograd_graph(output, params=None, rankdir="TB"):
    from ..nn.module import Parameter

    outputs = _tensors(output)
    if not outputs:
        raise TypeError(f"autograd_dot: expected a Tensor or a sequence of Tensors, "
                        f"got {type(output).__name__}")
    if not any(t._ctx is not None or t.requires_grad for t in outputs):
        raise GraphError("autograd_dot: this tensor has no autograd graph: it was computed "
                         "under no_grad(), or from inputs none of which requires grad")
    names = _param_names(params)
    graph = Graph("autograd", rankdir)
    tensor_ids, op_ids = {}, {}
    keep = []   # the tensors seen, alive until the end so that their ids stay unique

    def tensor_node(t, output_index=None):
        nid = tensor_ids.get(id(t))
        if nid is not None:
            return nid, False
        keep.append(t)
        nid = tensor_ids[id(t)] = f"t{len(tensor_ids)}"
        name = names.get(id(t)) or t.name
        if name is None and output_index is not None:
            name = "output" if len(outputs) == 1 else f"output {output_index}"
        label = ([name] if name else []) + [f"{_fmt_tensor_shape(t.shape)} {t.dtype}"]
        is_param = t._ctx is None and (id(t) in names or isinstance(t, Parameter))
        graph.add_node(nid, label, shape="ellipse",
                       style="Parameter" if is_param else "Tensor",
                       penwidth=2.0 if output_index is not None else 1.0)
        return nid, True

    def op_node(ctx):
        nid = op_ids.get(ctx)
        if nid is None:
            nid = op_ids[ctx] = f"f{len(op_ids)}"
            op = type(ctx).__name__
            graph.add_node(nid, [op], shape="box", style=category(op))
        return nid

    try:
        ops = trace_graph(outputs).ops
    except GraphError as e:
        raise GraphError(f"autograd_dot: {e}".replace("read it before", "draw it before")) \
            from None
    for i, t in enumerate(outputs):
        tid, new = tensor_node(t, i)
        if new and t._ctx is not None:
            graph.add_edge(op_node(t._ctx), tid)
    for op in ops:          # each op before the ops that made its inputs
        fid = op_node(op.node)
        for t in op.inputs:
            if t is None:
                continue
            tid, new = tensor_node(t)
            if new and t._ctx is not None:
                graph.add_edge(op_node(t._ctx), tid)
            graph.add_edge(tid, fid)
    return graph


def autograd_dot(output, params=None, rankdir="TB"):
    """DOT text of the autograd graph that produced ``output`` (a Tensor or several).

    Ops are boxes named by their ``Function`` (``Linear``, ``ReLU``, ``CrossEntropy``);
    tensors are ellipses labelled with their name (from ``params``, e.g.
    ``dict(model.named_parameters())`` or the model itself, else ``Tensor.name``), shape and
    dtype; parameters are green. Edges run input tensor -> op -> output tensor.
    Call it before ``backward()``: backward frees the graph (a ``GraphError`` says so)."""
    return _autograd_graph(output, params, rankdir).to_dot()
