"""The module graph of a model as a ``Graph``: one node per leaf layer call, with ops done
between layers (the ``+`` of a residual) as small nodes, from one traced forward pass on zeros
(``ournn.tracing``)."""
import heapq

import numpy as np

from ..tensor import Tensor
from ..tracing import tensors as _tensors
from .dot import Graph
from .styles import category


def _pair_text(v, sep="x"):
    v = tuple(v) if isinstance(v, (tuple, list)) else (v, v)
    return str(v[0]) if len(set(v)) == 1 else sep.join(str(a) for a in v)


def layer_title(module):
    """A layer's type and key configuration in a few characters, e.g. ``Conv2d 1->32 3x3 s1
    p1``, ``Linear W<10 x 256>``, ``MaxPool2d 2x2 s2``, ``Dropout p=0.3``."""
    t = type(module).__name__
    get = module.__dict__.get
    if get("in_channels") is not None and get("out_channels") is not None \
            and get("kernel_size") is not None:
        k = get("kernel_size")
        k = tuple(k) if isinstance(k, (tuple, list)) else (k, k)
        s = f"{t} {get('in_channels')}->{get('out_channels')} {'x'.join(map(str, k))}"
        s += f" s{_pair_text(get('stride', 1))} p{_pair_text(get('padding', 0))}"
        if get("groups", 1) not in (1, None):
            s += f" g{get('groups')}"
        return s
    if get("in_features") is not None and get("out_features") is not None:
        return f"{t} W<{get('out_features')} x {get('in_features')}>"
    if get("kernel_size") is not None:
        k = get("kernel_size")
        k = tuple(k) if isinstance(k, (tuple, list)) else (k, k)
        s = f"{t} {'x'.join(map(str, k))} s{_pair_text(get('stride') or k)}"
        pad = get("padding", 0)
        return s + (f" p{_pair_text(pad)}" if pad not in (0, (0, 0), [0, 0], None) else "")
    if get("num_features") is not None:
        return f"{t} {get('num_features')}"
    if "Dropout" in t and get("p") is not None:
        return f"{t} p={get('p')}"
    if get("negative_slope") is not None:
        return f"{t} {get('negative_slope')}"
    if t in ("Softmax", "LogSoftmax") and get("dim") is not None:
        return f"{t} dim={get('dim')}"
    if t == "Flatten":
        start, end = get("start_dim", 1), get("end_dim", -1)
        return t if (start, end) == (1, -1) else f"{t} {start}..{end}"
    weight = get("_parameters", {}).get("weight")
    if weight is not None and category(t) == "Op":
        return f"{t} W<{' x '.join(str(d) for d in weight.shape)}>"
    try:
        extra = module.extra_repr()
    except Exception:  # noqa: BLE001 (a user's extra_repr is no reason to fail drawing)
        extra = ""
    if extra:
        extra = extra if len(extra) <= 28 else extra[:27] + "..."
        return f"{t} {extra}"
    return t


def _model_graph(model, input_shape, rankdir="TB", show_ops=True, dtype=np.float32):
    from .summary import _fmt_shape, leaf_names, traced_pass

    input_shape = (input_shape,) if isinstance(input_shape, int) else tuple(input_shape)
    leaves = leaf_names(model)
    x = Tensor(np.zeros((1,) + input_shape, dtype=dtype),
               requires_grad=np.dtype(dtype).kind == "f")     # token ids need no gradient
    tr = traced_pass(model, x, grad=True)
    units = {"input": {"kind": "input", "srcs": []}}
    producer = {id(x): "input"}     # id(tensor) -> the unit whose output it is (latest call)
    unit_of_call = {}
    for call in sorted((c for c in tr.modules if id(c.module) in leaves), key=lambda c: c.end):
        name = leaves[id(call.module)]
        key = unit_of_call[call] = ("module", name, call.call)
        srcs = [producer.get(id(t), t) for t in _tensors(call.args)]  # a unit, or a tensor
        for o in call.outputs:
            producer[id(o)] = key
        units[key] = {"kind": "module", "module": call.module, "name": name, "call": call.call,
                      "srcs": srcs, "shape": _shape(call.output)}
    units["output"] = {"kind": "output", "srcs": _tensors(tr.output), "shape": _shape(tr.output)}

    def layer_running(op):
        """The unit of the layer call an op ran in, or None for an op between layers."""
        call = op.module
        while call is not None and call not in unit_of_call:
            call = call.parent
        return None if call is None else unit_of_call[call]

    # Everything else on the way from the input to the output is an op between layers.
    # Tensors that need no gradient (constants; parameters have no producer) are not drawn.
    free = {}

    def source(t, consumer=None):
        key = producer.get(id(t))
        if key is not None and key != consumer:
            # (a layer that returns its input unchanged, Dropout in eval, is that tensor's
            # latest producer: for the layer's own input, look past it to the op before)
            return key
        op = tr.producer(t)
        if op is None or not t.requires_grad:
            return None      # a parameter or a constant: not a node of this graph
        key = layer_running(op)
        if key is not None:
            return key
        key = free.get(op)
        if key is None:
            key = free[op] = ("op", len(free))
            units[key] = {"kind": "op", "op": op.type, "shape": tuple(t.shape),
                          "srcs": [i for i in op.inputs if i.requires_grad]}
            pending.append(key)
        return key

    pending = list(units)
    while pending:
        ukey = pending.pop()
        u = units[ukey]
        resolved = []
        for s in u["srcs"]:
            s = source(s, ukey) if isinstance(s, Tensor) else s
            if s is not None and s not in resolved:
                resolved.append(s)
        u["srcs"] = resolved

    if not show_ops:     # connect through the ops between layers
        effective = {}
        for key in _unit_order(units):
            srcs = []
            for s in units[key]["srcs"]:
                for e in (effective[s] if units[s]["kind"] == "op" else [s]):
                    if e not in srcs:
                        srcs.append(e)
            if units[key]["kind"] == "op":
                effective[key] = srcs
            else:
                units[key]["srcs"] = srcs
        units = {k: u for k, u in units.items() if u["kind"] != "op"}

    graph = Graph(type(model).__name__, rankdir)
    ids = {}
    for key in _unit_order(units):
        u = units[key]
        nid = ids[key] = f"n{len(ids)}"
        if u["kind"] == "input":
            graph.add_node(nid, ["Input", _fmt_shape((None,) + input_shape)], style="Data")
        elif u["kind"] == "output":
            graph.add_node(nid, ["Output", _fmt_shape(u["shape"]) if u["shape"] else "-"],
                           style="Data")
        elif u["kind"] == "op":
            graph.add_node(nid, [u["op"], _fmt_shape(u["shape"])], style=category(u["op"]))
        else:
            m = u["module"]
            name = u["name"] or type(m).__name__.lower()
            if u["call"] > 1:
                name += f" (call {u['call']})"
            n_params = sum(p.numel() for p in m.parameters())
            label = [layer_title(m), _fmt_shape(u["shape"]) if u["shape"] else "-",
                     f"{name}: {n_params:,} params" if n_params else name]
            graph.add_node(nid, label, style=category(type(m).__name__))
        for s in u["srcs"]:
            graph.add_edge(ids[s], nid)
    return graph


def _shape(out):
    if isinstance(out, Tensor):
        return tuple(out.shape)
    if isinstance(out, (tuple, list)):
        shapes = [_shape(o) for o in out if isinstance(o, (Tensor, tuple, list))]
        return shapes[0] if len(shapes) == 1 else shapes
    return None


def _unit_order(units):
    """Units in topological order, earliest created first among equals."""
    keys = list(units)
    index = {k: i for i, k in enumerate(keys)}
    consumers = [[] for _ in keys]
    indeg = [0] * len(keys)
    for k, u in units.items():
        for s in u["srcs"]:
            if s in index:
                consumers[index[s]].append(index[k])
                indeg[index[k]] += 1
    heap = [i for i, d in enumerate(indeg) if d == 0]
    heapq.heapify(heap)
    order = []
    while heap:
        i = heapq.heappop(heap)
        order.append(keys[i])
        for j in consumers[i]:
            indeg[j] -= 1
            if indeg[j] == 0:
                heapq.heappush(heap, j)
    return order


def model_dot(model, input_shape, rankdir="TB", show_ops=True, dtype=np.float32):
    """DOT text of ``model``'s layers for one input of ``input_shape`` (no batch dim).

    One node per leaf layer: type and configuration, output shape ``(N, ...)``, name and
    parameter count, coloured by Netron's categories; an Input and an Output node. The edges
    come from one forward pass on zeros (eval mode), so branches and skip connections are
    drawn as computed. ``show_ops`` keeps arithmetic done between layers (the ``+`` of a
    residual block) as small op nodes. ``rankdir`` is ``"TB"`` or ``"LR"``."""
    return _model_graph(model, input_shape, rankdir, show_ops, dtype).to_dot()
