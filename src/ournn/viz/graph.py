"""The network as a graph: DOT text first, pictures second, and never a need for Graphviz.

Two graphs can be drawn:

* ``autograd_dot(loss)`` / ``draw_graph(loss, "graph.svg")``: the autograd graph of one forward
  pass, as DeZero's ``get_dot_graph``: ops are boxes (``Linear``, ``ReLU``, ``CrossEntropy``),
  tensors are ellipses labelled ``name`` / ``shape dtype``. Call it *before* ``backward()``,
  which frees the graph. Only tensors that take part in autograd appear: an input batch or
  targets that do not require grad are constants of the graph and are not drawn.
* ``model_dot(model, (1, 28, 28))`` / ``draw_model(model, (1, 28, 28), "model.png")``: one
  node per leaf layer with its type, key configuration (``Conv2d 1->32 3x3 s1 p1``,
  ``Linear W<10 x 256>``), output shape and parameter count, coloured by category as Netron
  does (Layer, Activation, Pool, Normalization, Dropout, Shape). The edges come from the
  autograd graph of one forward pass on zeros, so a skip connection in a subclassed model is
  drawn as it is computed; arithmetic done between layers (the ``+`` of a residual) appears as
  a small op node (``show_ops=False`` hides it).

``render(graph_or_dot, path)`` writes ``.dot``/``.gv`` as text; ``.svg`` and ``.png`` go
through Graphviz's ``dot`` program when it is on the PATH, otherwise through our own layered
(Sugiyama-style) layout: longest-path layers, barycenter sweeps against crossings, positions
by isotonic regression, SVG written by hand, PNG drawn with Pillow (or matplotlib).
Files are written atomically. Netron opens the ``.dot`` files as they are.
"""
import bisect
import heapq
import importlib.util
import io
import math
import os
import re
import shutil
import subprocess
import warnings

import numpy as np

from ..errors import GraphError, ShapeError
from ..tensor import Tensor
from ..tracing import trace_graph

__all__ = ["Graph", "autograd_dot", "draw_graph", "draw_model", "model_dot", "parse_dot",
           "render"]

PNG_HINT = ("pip install 'ournn[viz]' or install Graphviz (apt-get install graphviz) to write "
            "PNG; SVG and DOT need nothing")

# ----------------------------------------------------------------------------------------------
# Categories and colours (Netron's grapher.css): fill, text, border.
# ----------------------------------------------------------------------------------------------
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


# ----------------------------------------------------------------------------------------------
# The graph, its DOT text and a parser for that text
# ----------------------------------------------------------------------------------------------
class Graph:
    """A directed graph to draw: ``nodes`` maps an id to its attributes (``label``: a list of
    lines, ``shape``: ``"box"`` or ``"ellipse"``, ``fill``/``font``/``border`` colours,
    ``rounded``, ``penwidth``); ``edges`` lists ``(src, dst)`` pairs in data order."""

    def __init__(self, name="G", rankdir="TB"):
        if rankdir not in ("TB", "LR"):
            raise ValueError(f"rankdir must be 'TB' (top to bottom) or 'LR' (left to right), "
                             f"got {rankdir!r}")
        self.name, self.rankdir = name, rankdir
        self.nodes = {}
        self.edges = []

    def add_node(self, node_id, label, shape="box", style="Op", rounded=None, penwidth=1.0):
        fill, font, border = STYLES[style] if isinstance(style, str) else style
        if isinstance(label, str):
            label = [label]
        self.nodes[node_id] = {"label": [str(s) for s in label], "shape": shape, "fill": fill,
                               "font": font, "border": border, "penwidth": float(penwidth),
                               "rounded": shape == "box" if rounded is None else rounded}
        return node_id

    def add_edge(self, src, dst):
        self.edges.append((src, dst))

    def topological_order(self):
        """Node ids with every edge's source before its destination: a depth-first post-order
        from the sinks (in insertion order) through each node's inputs in edge order, so the
        result reads in data order. An edge closing a cycle is ignored."""
        ids = list(self.nodes)
        index = {n: i for i, n in enumerate(ids)}
        preds = [[] for _ in ids]
        has_succ = [False] * len(ids)
        for a, b in self.edges:
            if a != b:
                preds[index[b]].append(index[a])
                has_succ[index[a]] = True
        state = [0] * len(ids)      # 0 unseen, 1 on the stack, 2 done
        order = []
        for root in [i for i, s in enumerate(has_succ) if not s] + list(range(len(ids))):
            if state[root]:
                continue
            state[root] = 1
            stack = [(root, 0)]
            while stack:
                v, k = stack[-1]
                if k < len(preds[v]):
                    stack[-1] = (v, k + 1)
                    u = preds[v][k]
                    if state[u] == 0:
                        state[u] = 1
                        stack.append((u, 0))
                else:
                    stack.pop()
                    state[v] = 2
                    order.append(v)
        return [ids[i] for i in order]

    def to_dot(self):
        """The graph as Graphviz DOT text: nodes in topological order, edges grouped by
        destination in that order (an op's inputs in argument order)."""
        order = self.topological_order()
        rank = {n: i for i, n in enumerate(order)}
        lines = [f"digraph {_dot_quote(self.name)} {{",
                 f'  graph [rankdir={self.rankdir}, nodesep=0.3, ranksep=0.35, '
                 f'bgcolor="white"];',
                 '  node [fontname="Helvetica", fontsize=11, margin="0.12,0.05"];',
                 '  edge [color="#555555", arrowsize=0.7];']
        for n in order:
            a = self.nodes[n]
            style = "filled,rounded" if a["rounded"] else "filled"
            lines.append(f"  {_dot_quote(n)} [label={_dot_label(a['label'])}, shape={a['shape']}, "
                         f'style="{style}", fillcolor="{a["fill"]}", fontcolor="{a["font"]}", '
                         f'color="{a["border"]}", penwidth={a["penwidth"]:g}];')
        edges = sorted(enumerate(self.edges), key=lambda ie: (rank[ie[1][1]], ie[0]))
        for _, (a, b) in edges:
            lines.append(f"  {_dot_quote(a)} -> {_dot_quote(b)};")
        lines.append("}")
        return "\n".join(lines) + "\n"


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _dot_quote(text):
    """A DOT double-quoted string: backslash and quote escaped, control characters blanked."""
    text = _CONTROL.sub(" ", str(text)).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


def _dot_label(lines):
    return '"' + "\\n".join(_dot_quote(s)[1:-1] for s in lines) + '"'


_TOKEN = re.compile(r"""
    (?P<skip>\s+|//[^\n]*|^\#[^\n]*|/\*.*?\*/)
  | (?P<str>"(?:[^"\\]|\\.)*")
  | (?P<edge>->|--)
  | (?P<punct>[{}\[\];,=:])
  | (?P<id>-?(?:\.\d+|\d+(?:\.\d*)?)|[A-Za-z_\u0080-\uffff][\w\u0080-\uffff]*)
""", re.DOTALL | re.VERBOSE | re.MULTILINE)

_NEWLINE = "\x00"   # stands for DOT's \n \l \r line breaks while unescaping


def _tokenize(text):
    tokens, pos = [], 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise ValueError(f"parse_dot: unexpected {text[pos:pos + 20]!r} at offset {pos} "
                             "(HTML labels and ports are not supported)")
        pos = m.end()
        kind = m.lastgroup
        if kind == "str":      # a quoted string is an ID, never a keyword
            tokens.append(("id", _unescape(m.group()[1:-1]), True))
        elif kind != "skip":
            tokens.append((kind if kind != "punct" else m.group(), m.group(), False))
    return tokens


def _unescape(body):
    out, i = [], 0
    while i < len(body):
        c = body[i]
        if c == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            if nxt in "nlr":
                out.append(_NEWLINE)
            elif nxt in '"\\':
                out.append(nxt)
            elif nxt != "\n":       # backslash-newline continues the line
                out.append(c + nxt)
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


def parse_dot(text):
    """Read DOT text (ours, or any plain ``digraph`` without subgraphs or HTML labels) back
    into a ``Graph``. Understands ``label``, ``shape``, ``style``, ``fillcolor``,
    ``fontcolor``, ``color``, ``penwidth`` and ``rankdir``."""
    toks = _tokenize(text)
    pos = 0

    def peek(k=0):
        return toks[pos + k] if pos + k < len(toks) else ("eof", "", False)

    def take(kind=None):
        nonlocal pos
        tok = peek()
        if kind is not None and tok[0] != kind:
            raise ValueError(f"parse_dot: expected {kind!r}, got {tok[1]!r}")
        pos += 1
        return tok

    def attr_list():
        attrs = {}
        while peek()[0] == "[":
            take("[")
            while peek()[0] != "]":
                key = take("id")[1]
                value = "true"
                if peek()[0] == "=":
                    take("=")
                    value = take("id")[1]
                attrs[key] = value
                if peek()[0] in (",", ";"):
                    take()
            take("]")
        return attrs

    if peek()[0] == "id" and not peek()[2] and peek()[1].lower() == "strict":
        take()
    head = take("id")[1].lower()
    if head not in ("digraph", "graph"):
        raise ValueError(f"parse_dot: expected 'digraph', got {head!r}")
    name = take("id")[1] if peek()[0] == "id" else "G"
    take("{")
    defaults = {"graph": {}, "node": {}, "edge": {}}
    raw_nodes, raw_edges = {}, []

    def declare(node_id, attrs=None):
        merged = raw_nodes.setdefault(node_id, dict(defaults["node"]))
        merged.update(attrs or {})

    while peek()[0] != "}":
        kind, value, quoted = peek()
        if kind == "eof":
            raise ValueError("parse_dot: missing '}'")
        if kind in (";", ","):
            take()
            continue
        if kind != "id" or (not quoted and value.lower() == "subgraph"):
            raise ValueError(f"parse_dot: unsupported statement at {value!r}")
        if not quoted and value.lower() in defaults and peek(1)[0] == "[":
            take()
            defaults[value.lower()].update(attr_list())
            continue
        if peek(1)[0] == "=":
            take(), take()
            defaults["graph"][value] = take("id")[1]
            continue
        chain = [take("id")[1]]
        while peek()[0] == "edge":
            take()
            chain.append(take("id")[1])
        attrs = attr_list()
        if len(chain) == 1:
            declare(chain[0], attrs)
        else:
            for n in chain:
                declare(n)
            raw_edges.extend(zip(chain, chain[1:]))
    take("}")

    graph = Graph(name, "LR" if defaults["graph"].get("rankdir", "TB") == "LR" else "TB")
    for node_id, a in raw_nodes.items():
        label = a.get("label", node_id).replace("\\N", node_id)
        lines = label.split(_NEWLINE)
        if len(lines) > 1 and lines[-1] == "":
            lines.pop()
        shape = "ellipse" if a.get("shape", "ellipse") in ("ellipse", "oval", "circle") \
            else "box"
        style = a.get("style", "")
        filled = "filled" in style
        fill = a.get("fillcolor", a.get("color", "lightgrey")) if filled else "#ffffff"
        try:
            penwidth = float(a.get("penwidth", 1))
        except ValueError:
            penwidth = 1.0
        graph.add_node(node_id, lines, shape=shape,
                       style=(fill, a.get("fontcolor", "#000000"), a.get("color", "#000000")),
                       rounded="rounded" in style, penwidth=penwidth)
    for a, b in raw_edges:
        graph.add_edge(a, b)
    return graph


# ----------------------------------------------------------------------------------------------
# Helpers shared by both graphs
# ----------------------------------------------------------------------------------------------
def _tensors(obj):
    """The Tensors in a nested tuple/list/dict, in order."""
    out, stack = [], [obj]
    while stack:
        o = stack.pop()
        if isinstance(o, Tensor):
            out.append(o)
        elif isinstance(o, (tuple, list)):
            stack.extend(reversed(o))
        elif isinstance(o, dict):
            stack.extend(reversed(list(o.values())))
    return out


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


# ----------------------------------------------------------------------------------------------
# The module graph
# ----------------------------------------------------------------------------------------------
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
    x = Tensor(np.zeros((1,) + input_shape, dtype=dtype), requires_grad=True)
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

    def source(t):
        key = producer.get(id(t))
        if key is not None:
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
        u = units[pending.pop()]
        resolved = []
        for s in u["srcs"]:
            s = source(s) if isinstance(s, Tensor) else s
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


def model_svg(model, input_shape, rankdir="TB", show_ops=True, dtype=np.float32):
    """SVG text of the drawing of ``model_dot``, laid out by ournn (no Graphviz needed)."""
    return to_svg(_model_graph(model, input_shape, rankdir, show_ops, dtype))


# ----------------------------------------------------------------------------------------------
# Layout: layers by longest path, order by barycenter sweeps, coordinates by isotonic regression
# ----------------------------------------------------------------------------------------------
FONT_SIZE = 12
LINE_HEIGHT = 15
_NARROW = set("ijlI.,:;'|!()[]{}ft /\\-r")
_WIDE = set("mwMW@%")
_MEDIUM_WIDE = set("<>=+#~^*")


def estimate_text_width(text, size=FONT_SIZE):
    """Width in px of ``text`` in DejaVu Sans / Verdana (the wide sans fonts; narrower fonts
    just get more padding)."""
    w = 0.0
    for c in text:
        if c in _NARROW:
            w += 0.34
        elif c in _WIDE:
            w += 0.95
        elif c in _MEDIUM_WIDE:
            w += 0.84
        elif c.isupper():
            w += 0.74
        elif c.isdigit():
            w += 0.64
        elif ord(c) < 128:
            w += 0.61
        else:
            w += 1.0
    return w * size


class Layout:
    """Positions: ``boxes`` id -> (cx, cy, w, h); ``paths`` (src, dst, cubic segments
    [(p0, c1, c2, p1), ...] from src to dst); ``width`` and ``height`` in px."""

    def __init__(self, boxes, paths, width, height):
        self.boxes, self.paths, self.width, self.height = boxes, paths, width, height


def _node_size(node, measure):
    text_w = max((measure(s) for s in node["label"]), default=0.0)
    text_h = max(1, len(node["label"])) * LINE_HEIGHT
    if node["shape"] == "ellipse":
        return max(text_w * 1.22 + 18, 50.0), text_h * 1.35 + 12
    return max(text_w + 20, 40.0), text_h + 10


def layout(graph, measure=estimate_text_width, margin=16.0):
    """Lay ``graph`` out in layers (top to bottom, or left to right for ``rankdir="LR"``)."""
    ids = list(graph.nodes)
    n = len(ids)
    if n == 0:
        return Layout({}, [], 2 * margin, 2 * margin)
    index = {nid: i for i, nid in enumerate(ids)}
    tb = graph.rankdir == "TB"
    sizes = [_node_size(graph.nodes[nid], measure) for nid in ids]
    along = [w if tb else h for w, h in sizes]     # size along a layer
    across = [h if tb else w for w, h in sizes]    # size across layers
    rank_sep = 34.0 if tb else 48.0

    # 1. A topological order (cycles broken by it), then longest-path layers.
    order_pos = {nid: i for i, nid in enumerate(graph.topological_order())}
    edges = []
    for a, b in graph.edges:
        if a == b:
            continue
        u, v = index[a], index[b]
        flipped = order_pos[a] > order_pos[b]
        edges.append((v, u, True) if flipped else (u, v, False))
    preds = [[] for _ in range(n)]
    succs = [[] for _ in range(n)]
    for u, v, _ in edges:
        preds[v].append(u)
        succs[u].append(v)
    topo = sorted(range(n), key=lambda i: order_pos[ids[i]])
    layer = [0] * n
    for v in topo:
        if preds[v]:
            layer[v] = max(layer[u] for u in preds[v]) + 1
    for v in reversed(topo):        # sources (parameters, inputs) sit just above their user
        if not preds[v] and succs[v]:
            layer[v] = min(layer[s] for s in succs[v]) - 1
    low = min(layer)
    layer = [lv - low for lv in layer]

    # 2. Long edges become chains of dummy nodes, one per layer crossed; within a budget, so
    # that a tensor used all along a deep graph costs no quadratic time (beyond the budget the
    # longest edges are drawn directly and take no part in the ordering).
    lsucc = [[] for _ in range(n)]
    lpred = [[] for _ in range(n)]
    chains = []
    budget = max(4000, 3 * n)
    routed = set()
    for k in sorted(range(len(edges)), key=lambda k: layer[edges[k][1]] - layer[edges[k][0]]):
        cost = layer[edges[k][1]] - layer[edges[k][0]] - 1
        if cost > budget:
            break
        budget -= cost
        routed.add(k)
    for k, (u, v, flipped) in enumerate(edges):
        if k not in routed:
            chains.append(([u, v], flipped))
            continue
        chain = [u]
        for lv in range(layer[u] + 1, layer[v]):
            d = len(layer)
            layer.append(lv)
            along.append(6.0)
            across.append(0.0)
            lsucc.append([])
            lpred.append([])
            chain.append(d)
        chain.append(v)
        for a, b in zip(chain, chain[1:]):
            lsucc[a].append(b)
            lpred[b].append(a)
        chains.append((chain, flipped))
    total = len(layer)
    n_layers = max(layer) + 1

    # 3. Order within layers: depth-first order first, then barycenter sweeps.
    seen = [False] * total
    layers = [[] for _ in range(n_layers)]
    roots = [v for v in topo if not lpred[v]] + topo
    for r in roots:
        stack = [r]
        while stack:
            v = stack.pop()
            if seen[v]:
                continue
            seen[v] = True
            layers[layer[v]].append(v)
            stack.extend(reversed(lsucc[v]))
    pos = [0] * total
    for lst in layers:
        for i, v in enumerate(lst):
            pos[v] = i

    def crossings():
        count = 0
        for lst in layers[:-1]:
            pairs = sorted((pos[u], pos[w]) for u in lst for w in lsucc[u])
            tree = [0] * (len(pairs) + 2)
            size = len(tree) - 1
            seen_n = 0
            ends = sorted({b for _, b in pairs})
            for _, b in pairs:
                r = bisect.bisect_left(ends, b) + 1
                i, below = r, 0
                while i > 0:
                    below += tree[i]
                    i -= i & -i
                count += seen_n - below
                i = r
                while i <= size:
                    tree[i] += 1
                    i += i & -i
                seen_n += 1
        return count

    def sweep(rng, nbrs):
        for li in rng:
            lst = layers[li]
            bary = {}
            for v in lst:
                ps = nbrs[v]
                bary[v] = sum(pos[u] for u in ps) / len(ps) if ps else pos[v]
            lst.sort(key=lambda v: (bary[v], pos[v]))
            for i, v in enumerate(lst):
                pos[v] = i

    best, best_count = [list(lst) for lst in layers], crossings()
    rounds = 12 if total < 2000 else 4
    for _ in range(rounds):
        if best_count == 0:
            break
        sweep(range(1, n_layers), lpred)
        sweep(range(n_layers - 2, -1, -1), lsucc)
        c = crossings()
        if c < best_count:
            best, best_count = [list(lst) for lst in layers], c
    layers = best
    for lst in layers:
        for i, v in enumerate(lst):
            pos[v] = i

    # 4. Coordinates along each layer: as near the neighbours' mean as spacing allows.
    coord = [0.0] * total

    def gap(a, b):
        real = a < n and b < n
        return (along[a] + along[b]) / 2 + (18.0 if real else 14.0)

    for lst in layers:
        x = 0.0
        for i, v in enumerate(lst):
            if i:
                x += gap(lst[i - 1], v)
            coord[v] = x
    for lst in layers:       # centre the layers on each other to start with
        mid = (coord[lst[0]] + coord[lst[-1]]) / 2 if lst else 0.0
        for v in lst:
            coord[v] -= mid

    def place(lst, nbrs):
        # Each node goes to the weighted median of its neighbours (a straight line wins over a
        # compromise), then the layer is spread out as little as possible. Segments between
        # dummies weigh most (Gansner et al.'s 1, 2, 8), so long edges run straight; a leaf
        # (a parameter feeding one op) hardly pulls, so the main chain stays straight with
        # the parameters beside it.
        desired, weights = [], []
        for v in lst:
            pulls = [(coord[u], 0.3 if leaf[u] else
                      1 + (u >= n) + (v >= n) + 5 * (u >= n and v >= n)) for u in nbrs[v]]
            total_w = sum(w for _, w in pulls)
            desired.append(_weighted_median(pulls) if pulls else coord[v])
            weights.append((total_w if pulls else 0.25) * (0.1 if leaf[v] else 1.0))
        seps = [0.0] + [gap(a, b) for a, b in zip(lst, lst[1:])]
        for v, x in zip(lst, _spaced_fit(desired, seps, weights)):
            coord[v] = x

    leaf = [v < n and len(lpred[v]) + len(lsucc[v]) == 1 for v in range(total)]
    both = [lpred[v] + lsucc[v] for v in range(total)]
    small = total < 3000
    for _ in range(8 if small else 2):
        for li in range(1, n_layers):
            place(layers[li], lpred)
        for li in range(n_layers - 2, -1, -1):
            place(layers[li], lsucc)
    for _ in range(4 if small else 1):
        for li in range(n_layers):
            place(layers[li], both)
    for lst in layers:      # a nearly straight edge is made straight when there is room
        for i, v in enumerate(lst):
            if len(set(lpred[v])) != 1:
                continue
            target = coord[lpred[v][0]]
            if abs(target - coord[v]) > 40 or \
                    (i and target - coord[lst[i - 1]] < gap(lst[i - 1], v)) or \
                    (i + 1 < len(lst) and coord[lst[i + 1]] - target < gap(v, lst[i + 1])):
                continue
            coord[v] = target

    # 5. Across layers: each layer as thick as its largest node.
    thick = [0.0] * n_layers
    for v in range(n):
        thick[layer[v]] = max(thick[layer[v]], across[v])
    # Layers further apart where edges between them run far sideways, so they stay legible.
    sideways = [0.0] * n_layers
    for v in range(total):
        for w in lsucc[v]:
            sideways[layer[v]] = max(sideways[layer[v]], abs(coord[v] - coord[w]))
    centre_of_layer, t = [], margin
    for li, th in enumerate(thick):
        centre_of_layer.append(t + th / 2)
        t += th + min(max(rank_sep, 0.3 * sideways[li]), 3 * rank_sep)
    extent_across = t - rank_sep + margin
    shift = margin - min(coord[v] - along[v] / 2 for v in range(total))
    extent_along = max(coord[v] + along[v] / 2 for v in range(total)) + shift + margin

    def point(v):
        a, c = coord[v] + shift, centre_of_layer[layer[v]]
        return (a, c) if tb else (c, a)

    boxes = {}
    for v in range(n):
        cx, cy = point(v)
        boxes[ids[v]] = (cx, cy, sizes[v][0], sizes[v][1])

    # 6. Edges: ports spread along a node's side, cubic segments through the dummies.
    out_ports = [[] for _ in range(n)]
    in_ports = [[] for _ in range(n)]
    for k, (chain, _) in enumerate(chains):
        out_ports[chain[0]].append((coord[chain[1]], k))
        in_ports[chain[-1]].append((coord[chain[-2]], k))
    start_off, end_off = {}, {}
    for v in range(n):
        for ports, offsets in ((out_ports[v], start_off), (in_ports[v], end_off)):
            ports.sort()
            k = len(ports)
            step = min(12.0, along[v] * 0.7 / max(k, 1))
            for i, (_, e) in enumerate(ports):
                offsets[e] = (i - (k - 1) / 2) * step

    def border(v, off, bottom):
        cx, cy, w, h = boxes[ids[v]]
        half_across = (h if tb else w) / 2
        if graph.nodes[ids[v]]["shape"] == "ellipse":
            half_along = (w if tb else h) / 2
            half_across *= math.sqrt(max(0.0, 1 - (off / half_along) ** 2))
        sign = 1 if bottom else -1
        return (cx + off, cy + sign * half_across) if tb else (cx + sign * half_across, cy + off)

    paths = []
    for k, (chain, flipped) in enumerate(chains):
        pts = [border(chain[0], start_off[k], True)]
        pts += [point(d) for d in chain[1:-1]]
        pts.append(border(chain[-1], end_off[k], False))
        segments = []
        for p, q in zip(pts, pts[1:]):
            if tb:
                dy = (q[1] - p[1]) / 2
                segments.append((p, (p[0], p[1] + dy), (q[0], q[1] - dy), q))
            else:
                dx = (q[0] - p[0]) / 2
                segments.append((p, (p[0] + dx, p[1]), (q[0] - dx, q[1]), q))
        src, dst = ids[chain[0]], ids[chain[-1]]
        if flipped:
            segments = [(q, c2, c1, p) for p, c1, c2, q in reversed(segments)]
            src, dst = dst, src
        paths.append((src, dst, segments))
    width, height = (extent_along, extent_across) if tb else (extent_across, extent_along)
    return Layout(boxes, paths, width, height)


def _weighted_median(pairs):
    """The weighted median of (value, weight) pairs; the midpoint when the weight splits
    exactly in two halves."""
    pairs = sorted(pairs)
    half = sum(w for _, w in pairs) / 2
    acc = 0.0
    for i, (c, w) in enumerate(pairs):
        acc += w
        if abs(acc - half) < 1e-9 and i + 1 < len(pairs):
            return (c + pairs[i + 1][0]) / 2
        if acc > half:
            return c
    return pairs[-1][0]


def _spaced_fit(desired, seps, weights):
    """Positions x (in order) minimising sum w_i (x_i - desired_i)^2 subject to
    x_i - x_{i-1} >= seps_i: isotonic regression (pool adjacent violators) on x_i - offset_i."""
    offsets, acc = [], 0.0
    for s in seps:
        acc += s
        offsets.append(acc)
    blocks = []     # [weighted mean, total weight, count]
    for d, o, w in zip(desired, offsets, weights):
        blocks.append([d - o, w, 1])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            m2, w2, c2 = blocks.pop()
            m1, w1, c1 = blocks[-1]
            blocks[-1] = [(m1 * w1 + m2 * w2) / (w1 + w2), w1 + w2, c1 + c2]
    out = []
    for m, _, c in blocks:
        out.extend([m] * c)
    return [y + o for y, o in zip(out, offsets)]


# ----------------------------------------------------------------------------------------------
# SVG, drawn by hand
# ----------------------------------------------------------------------------------------------
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
EDGE_COLOUR = "#555555"


def _xml(text):
    text = _XML_INVALID.sub("\ufffd", str(text))
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;").replace("'", "&#39;"))


def to_svg(graph):
    """``graph`` as a standalone SVG document (str), laid out by ``layout``."""
    lay = layout(graph)
    f = "{:.1f}".format
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{math.ceil(lay.width)}" '
           f'height="{math.ceil(lay.height)}" viewBox="0 0 {f(lay.width)} {f(lay.height)}" '
           f'font-family="DejaVu Sans, Verdana, Geneva, sans-serif" font-size="{FONT_SIZE}">',
           "<!-- generated by ournn.viz.graph (no Graphviz) -->",
           f"<title>{_xml(graph.name)}</title>",
           '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" '
           'markerHeight="8" markerUnits="userSpaceOnUse" orient="auto">'
           f'<path d="M0,0 L10,5 L0,10 z" fill="{EDGE_COLOUR}"/></marker></defs>',
           f'<rect class="background" x="0" y="0" width="{f(lay.width)}" '
           f'height="{f(lay.height)}" fill="#ffffff"/>',
           '<g class="edges">']
    for src, dst, segments in lay.paths:
        d = f"M{f(segments[0][0][0])},{f(segments[0][0][1])}"
        for _, c1, c2, q in segments:
            d += f" C{f(c1[0])},{f(c1[1])} {f(c2[0])},{f(c2[1])} {f(q[0])},{f(q[1])}"
        out.append(f'<path class="edge" data-src="{_xml(src)}" data-dst="{_xml(dst)}" d="{d}" '
                   f'fill="none" stroke="{EDGE_COLOUR}" stroke-width="1.2" '
                   'marker-end="url(#arrow)"/>')
    out.append("</g>")
    for nid, node in graph.nodes.items():
        cx, cy, w, h = lay.boxes[nid]
        paint = (f'fill="{_xml(node["fill"])}" stroke="{_xml(node["border"])}" '
                 f'stroke-width="{node["penwidth"]:g}"')
        out.append(f'<g class="node" id="{_xml(nid)}"><title>'
                   f'{_xml(" / ".join(node["label"]))}</title>')
        if node["shape"] == "ellipse":
            out.append(f'<ellipse cx="{f(cx)}" cy="{f(cy)}" rx="{f(w / 2)}" ry="{f(h / 2)}" '
                       f"{paint}/>")
        else:
            rx = ' rx="4"' if node["rounded"] else ""
            out.append(f'<rect x="{f(cx - w / 2)}" y="{f(cy - h / 2)}" width="{f(w)}" '
                       f'height="{f(h)}"{rx} {paint}/>')
        out.append(f'<text text-anchor="middle" fill="{_xml(node["font"])}">')
        top = cy - len(node["label"]) * LINE_HEIGHT / 2
        for i, line in enumerate(node["label"]):
            baseline = top + (i + 0.5) * LINE_HEIGHT + 0.36 * FONT_SIZE
            out.append(f'<tspan x="{f(cx)}" y="{f(baseline)}">{_xml(line)}</tspan>')
        out.append("</text></g>")
    out.append("</svg>")
    return "\n".join(out) + "\n"


# ----------------------------------------------------------------------------------------------
# PNG: the same layout rasterised with Pillow, or matplotlib
# ----------------------------------------------------------------------------------------------
def _bezier_points(segments, scale, steps=12):
    pts = []
    for p0, c1, c2, p1 in segments:
        for i in range(0 if not pts else 1, steps + 1):
            t = i / steps
            a, b, c, d = (1 - t) ** 3, 3 * (1 - t) ** 2 * t, 3 * (1 - t) * t ** 2, t ** 3
            pts.append(((a * p0[0] + b * c1[0] + c * c2[0] + d * p1[0]) * scale,
                        (a * p0[1] + b * c1[1] + c * c2[1] + d * p1[1]) * scale))
    return pts


def _arrow_head(segments, scale, length=8.0, half_width=3.5):
    """Triangle (3 points) ending at the path's end, along the final tangent."""
    p0, _, c2, p1 = segments[-1]
    dx, dy = p1[0] - c2[0], p1[1] - c2[1]
    if abs(dx) + abs(dy) < 1e-6:
        dx, dy = p1[0] - p0[0], p1[1] - p0[1]
    norm = math.hypot(dx, dy) or 1.0
    ux, uy = dx / norm, dy / norm
    tip = (p1[0], p1[1])
    base = (tip[0] - ux * length, tip[1] - uy * length)
    left = (base[0] - uy * half_width, base[1] + ux * half_width)
    right = (base[0] + uy * half_width, base[1] - ux * half_width)
    return [(x * scale, y * scale) for x, y in (tip, left, right)]


def _find_font_file():
    """A TrueType sans font: the system's DejaVu Sans, or the copy matplotlib ships."""
    candidates = ["DejaVuSans.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
                  "/Library/Fonts/Arial.ttf", "C:/Windows/Fonts/arial.ttf"]
    spec = importlib.util.find_spec("matplotlib")
    if spec is not None and spec.origin:
        candidates.append(os.path.join(os.path.dirname(spec.origin), "mpl-data", "fonts", "ttf",
                                       "DejaVuSans.ttf"))
    return candidates


def _pillow_font(size):
    from PIL import ImageFont
    for path in _find_font_file():
        try:
            return ImageFont.truetype(path, size)
        except OSError:
            continue
    try:
        return ImageFont.load_default(size=size)     # Pillow >= 10.1 ships a scalable font
    except TypeError:
        return ImageFont.load_default()


MAX_PNG_PIXELS = 40e6


def _png_scale(lay, scale):
    """``scale``, reduced so that the picture stays under ``MAX_PNG_PIXELS``."""
    fit = math.sqrt(MAX_PNG_PIXELS / max(1.0, lay.width * lay.height))
    if fit < 0.25:
        raise ValueError(f"the graph is too large for a PNG ({lay.width:.0f} x "
                         f"{lay.height:.0f} px at scale 1); write .svg or .dot instead")
    return min(scale, fit)


def _png_pillow(graph, scale):
    from PIL import Image, ImageDraw

    probe = _pillow_font(FONT_SIZE * 4)
    lay = layout(graph, measure=lambda s: probe.getlength(s) / 4 + 2)
    scale = _png_scale(lay, scale)
    pixels = lay.width * lay.height * scale * scale
    ss = 2 if pixels < 12e6 else 1          # draw twice as large, then downsample: antialiasing
    s = scale * ss
    size = (max(ss, math.ceil(lay.width * scale) * ss), max(ss, math.ceil(lay.height * scale) * ss))
    img = Image.new("RGB", size, "#ffffff")
    draw = ImageDraw.Draw(img)
    font = _pillow_font(max(6, round(FONT_SIZE * s)))
    for _, _, segments in lay.paths:
        draw.line(_bezier_points(segments, s), fill=EDGE_COLOUR, width=max(1, round(1.2 * s)),
                  joint="curve")
        draw.polygon(_arrow_head(segments, s), fill=EDGE_COLOUR)
    top_bottom = font.getbbox("Hg")
    text_mid = (top_bottom[1] + top_bottom[3]) / 2
    for nid, node in graph.nodes.items():
        cx, cy, w, h = lay.boxes[nid]
        box = [(cx - w / 2) * s, (cy - h / 2) * s, (cx + w / 2) * s, (cy + h / 2) * s]
        line_w = max(1, round(node["penwidth"] * s))
        if node["shape"] == "ellipse":
            draw.ellipse(box, fill=node["fill"], outline=node["border"], width=line_w)
        elif node["rounded"]:
            draw.rounded_rectangle(box, radius=4 * s, fill=node["fill"], outline=node["border"],
                                   width=line_w)
        else:
            draw.rectangle(box, fill=node["fill"], outline=node["border"], width=line_w)
        top = cy - len(node["label"]) * LINE_HEIGHT / 2
        for i, line in enumerate(node["label"]):
            mid = (top + (i + 0.5) * LINE_HEIGHT) * s
            draw.text((cx * s - font.getlength(line) / 2, mid - text_mid), line,
                      font=font, fill=node["font"])
    if ss > 1:
        img = img.reduce(ss)
    buf = io.BytesIO()
    img.save(buf, format="PNG", dpi=(72 * scale, 72 * scale), compress_level=3)
    return buf.getvalue()


def _png_matplotlib(graph, scale):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Ellipse, FancyBboxPatch, PathPatch, Polygon
    from matplotlib.path import Path

    lay = layout(graph)
    scale = _png_scale(lay, scale)
    dpi = 100 * scale
    fig = Figure(figsize=(lay.width / 100, lay.height / 100), dpi=dpi)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, lay.width)
    ax.set_ylim(lay.height, 0)
    ax.axis("off")
    for _, _, segments in lay.paths:
        verts = [segments[0][0]]
        codes = [Path.MOVETO]
        for _, c1, c2, q in segments:
            verts += [c1, c2, q]
            codes += [Path.CURVE4] * 3
        ax.add_patch(PathPatch(Path(verts, codes), fill=False, edgecolor=EDGE_COLOUR, lw=0.9))
        ax.add_patch(Polygon(_arrow_head(segments, 1.0), closed=True, color=EDGE_COLOUR))
    for nid, node in graph.nodes.items():
        cx, cy, w, h = lay.boxes[nid]
        style = {"facecolor": node["fill"], "edgecolor": node["border"],
                 "lw": node["penwidth"] * 0.75}
        if node["shape"] == "ellipse":
            ax.add_patch(Ellipse((cx, cy), w, h, **style))
        else:
            box = "round,pad=0,rounding_size=4" if node["rounded"] else "square,pad=0"
            ax.add_patch(FancyBboxPatch((cx - w / 2, cy - h / 2), w, h, boxstyle=box, **style))
        top = cy - len(node["label"]) * LINE_HEIGHT / 2
        for i, line in enumerate(node["label"]):
            ax.text(cx, top + (i + 0.5) * LINE_HEIGHT, line, ha="center", va="center",
                    color=node["font"], fontsize=FONT_SIZE * 0.72, family="DejaVu Sans")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, facecolor="white")
    return buf.getvalue()


def to_png(graph, scale=1.5):
    """``graph`` as PNG bytes from our own layout: Pillow, else matplotlib, else an
    ImportError with the one-line hint."""
    if importlib.util.find_spec("PIL") is not None:
        return _png_pillow(graph, scale)
    if importlib.util.find_spec("matplotlib") is not None:
        return _png_matplotlib(graph, scale)
    raise ImportError(PNG_HINT)


# ----------------------------------------------------------------------------------------------
# Rendering and the one-call entry points
# ----------------------------------------------------------------------------------------------
def _graphviz(dot_text, fmt, timeout):
    """Output bytes of Graphviz's ``dot -T<fmt>``, or None when it is absent or fails."""
    exe = shutil.which("dot")
    if exe is None:
        return None
    args = [exe, f"-T{fmt}"] + (["-Gdpi=144"] if fmt == "png" else [])
    try:
        done = subprocess.run(args, input=dot_text.encode("utf-8"), capture_output=True,
                              timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        warnings.warn(f"Graphviz 'dot' failed ({e}); using ournn's own layout", stacklevel=3)
        return None
    if done.returncode != 0 or not done.stdout:
        err = done.stderr.decode("utf-8", "replace").strip().splitlines()
        warnings.warn(f"Graphviz 'dot' failed ({err[-1] if err else done.returncode}); "
                      "using ournn's own layout", stacklevel=3)
        return None
    return done.stdout


def render(graph, path, engine="auto", scale=1.5, timeout=60):
    """Write ``graph`` (a ``Graph`` or DOT text) to ``path``: ``.dot``/``.gv`` as text;
    ``.svg``/``.png`` with Graphviz's ``dot`` when it is installed (``engine="auto"``) and with
    our own layout otherwise (or always, ``engine="ournn"``); other formats (``.pdf``) need
    Graphviz. PNG is drawn at ``scale`` px per layout unit. Returns the path."""
    from ..io import atomic_write_bytes

    if engine not in ("auto", "ournn", "graphviz"):
        raise ValueError(f"engine must be 'auto', 'ournn' or 'graphviz', got {engine!r}")
    if isinstance(graph, str):
        dot_text, graph = graph, None
    else:
        dot_text = graph.to_dot()
    path = os.fspath(path)
    fmt = os.path.splitext(path)[1].lower().lstrip(".")
    if fmt in ("dot", "gv"):
        atomic_write_bytes(path, dot_text.encode("utf-8"))
        return path
    data = None
    if engine in ("auto", "graphviz"):
        data = _graphviz(dot_text, fmt, timeout)
        if data is None and engine == "graphviz":
            raise RuntimeError("render: Graphviz 'dot' is not installed or failed "
                               "(apt-get install graphviz)")
    if data is None:
        if graph is None:
            graph = parse_dot(dot_text)
        if fmt == "svg":
            data = to_svg(graph).encode("utf-8")
        elif fmt == "png":
            data = to_png(graph, scale)
        else:
            raise ValueError(f"render: without Graphviz only .dot, .svg and .png can be "
                             f"written, got {path!r}")
    atomic_write_bytes(path, data)
    return path


def draw_graph(output, path, params=None, rankdir="TB", engine="auto"):
    """Draw the autograd graph behind ``output`` (before ``backward()``!) to ``path``
    (``.svg``, ``.png`` or ``.dot``) and return its DOT text. ``params`` names the parameter
    tensors: a model or ``dict(model.named_parameters())``.

    Example: ``ournn.viz.draw_graph(loss, "graph.svg", params=model)``."""
    graph = _autograd_graph(output, params, rankdir)
    render(graph, path, engine=engine)
    return graph.to_dot()


def draw_model(model, input_shape, path, rankdir="TB", show_ops=True, engine="auto"):
    """Draw ``model``'s layers for one input of ``input_shape`` (no batch dim) to ``path``
    (``.svg``, ``.png`` or ``.dot``) and return the DOT text; see ``model_dot``.

    Example: ``ournn.viz.draw_model(get_model("cnn"), (1, 28, 28), "cnn.png")``."""
    graph = _model_graph(model, input_shape, rankdir, show_ops)
    render(graph, path, engine=engine)
    return graph.to_dot()
