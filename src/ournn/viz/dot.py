"""``Graph``, a directed graph to draw, its Graphviz DOT text, and ``parse_dot``, a reader of
that text (so a ``.dot`` file, ours or edited, can be drawn without Graphviz)."""
import re

from .styles import STYLES

__all__ = ["Graph", "parse_dot"]


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
