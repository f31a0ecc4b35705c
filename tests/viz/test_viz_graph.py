"""ournn.viz.graph: DOT text for the autograd and module graphs, and pictures without Graphviz."""
import os
import re
import shutil
import stat
import subprocess
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import ournn
from ournn import nn
from ournn.errors import GraphError
from ournn.models import get_model, list_models
from ournn.nn import functional as F
from ournn.viz import graph as G

SVG = "{http://www.w3.org/2000/svg}"


# ----- a small DOT reader of our own, independent of the module under test -----
_TOKENS = re.compile(r'\s+|(?P<str>"(?:[^"\\]|\\.)*")|(?P<arrow>->)|(?P<p>[{}\[\];,=])'
                     r'|(?P<id>[A-Za-z_][\w.]*|-?\d+(?:\.\d+)?)')


def read_dot(text):
    """(nodes {id: attrs}, edges [(a, b)]) of a digraph; asserts it is well formed: balanced
    braces, node statements with attribute lists, edges between declared nodes."""
    toks, pos = [], 0
    while pos < len(text):
        m = _TOKENS.match(text, pos)
        assert m is not None, f"cannot tokenize DOT at {text[pos:pos + 30]!r}"
        pos = m.end()
        if m.lastgroup == "str":
            toks.append(("id", re.sub(r'\\(.)', lambda e: "\n" if e.group(1) == "n"
                                      else e.group(1), m.group()[1:-1])))
        elif m.lastgroup:
            toks.append((m.lastgroup if m.lastgroup != "p" else m.group(), m.group()))
    depth = 0
    for kind, _ in toks:
        depth += kind == "{"
        depth -= kind == "}"
        assert depth >= 0
    assert depth == 0, "unbalanced braces"
    assert toks[0] == ("id", "digraph") and toks[2][0] == "{" and toks[-1][0] == "}"
    body, i = toks[3:-1], 0
    nodes, edges = {}, []

    def attrs():
        nonlocal i
        out = {}
        assert body[i][0] == "["
        i += 1
        while body[i][0] != "]":
            key = body[i][1]
            assert body[i + 1][0] == "="
            out[key] = body[i + 2][1]
            i += 3
            if body[i][0] == ",":
                i += 1
        i += 1
        return out

    while i < len(body):
        kind, value = body[i]
        assert kind == "id", f"statement starts with {value!r}"
        if value in ("graph", "node", "edge") and body[i + 1][0] == "[":
            i += 1
            attrs()
        elif body[i + 1][0] == "arrow":
            edges.append((value, body[i + 2][1]))
            i += 3
        else:
            i += 1
            nodes[value] = attrs()
        assert body[i][0] == ";", "statement not ended by ';'"
        i += 1
    for a, b in edges:
        assert a in nodes and b in nodes, f"edge {a} -> {b} to an undeclared node"
    return nodes, edges


def labels(nodes):
    return {nid: a["label"].split("\n") for nid, a in nodes.items()}


class Skip(nn.Module):
    """y = fc2(relu(fc1(x))) + fc3(x)"""

    def __init__(self):
        super().__init__()
        self.fc1, self.relu, self.fc2 = nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4)
        self.fc3 = nn.Linear(8, 4)

    def forward(self, x):
        return self.fc2(self.relu(self.fc1(x))) + self.fc3(x)


def small_mlp_loss():
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 16), nn.ReLU(), nn.Linear(16, 3))
    x = ournn.tensor(np.random.default_rng(0).random((5, 3, 4), dtype=np.float32))
    y = ournn.tensor(np.array([0, 1, 2, 1, 0]))
    return model, F.cross_entropy(model(x), y)


@pytest.fixture
def no_graphviz(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda *a, **k: None)

    def fail(*a, **k):
        raise AssertionError("subprocess used although Graphviz is absent")
    monkeypatch.setattr(subprocess, "run", fail)


# ----- the module graph -----
SEQUENTIAL_ZOO = [n for n in list_models() if isinstance(get_model(n), ournn.nn.Sequential)]


@pytest.mark.parametrize("name", SEQUENTIAL_ZOO)
def test_zoo_model_dot_parses_and_names_every_layer(name):
    model = get_model(name)
    nodes, edges = read_dot(G.model_dot(model, (1, 28, 28)))
    text = labels(nodes)
    leaves = [(n, m) for n, m in model.named_modules() if not list(m.children())]
    assert len(nodes) == len(leaves) + 2                     # + Input and Output
    for layer_name, module in leaves:
        hits = [nid for nid, lines in text.items() if lines[-1].split(":")[0] == layer_name]
        assert len(hits) == 1, layer_name
        assert text[hits[0]][0].startswith(type(module).__name__)
        assert text[hits[0]][1].startswith("(N, ")            # the output shape
    # A Sequential is a chain: Input -> layer 0 -> ... -> Output.
    assert len(edges) == len(leaves) + 1
    assert len({a for a, _ in edges}) == len(edges) == len({b for _, b in edges})
    first = next(nid for nid, lines in text.items() if lines[0] == "Input")
    assert text[first] == ["Input", "(N, 1, 28, 28)"]
    assert model.training                                     # mode restored after the trace


@pytest.mark.parametrize("name, shape, dtype", [("lstm", (1, 28, 28), np.float32),
                                                 ("charlstm", (7,), np.int64)])
def test_recurrent_zoo_models_draw_every_layer_on_the_way_to_the_output(name, shape, dtype):
    """Models with their own forward (ops between layers, a layer that passes its input
    through): every leaf layer is drawn once, and every node lies on a path to the output."""
    model = get_model(name)
    nodes, edges = read_dot(G.model_dot(model, shape, dtype=dtype))
    text = labels(nodes)
    for layer_name, module in model.named_modules():
        if list(module.children()) or not layer_name:
            continue
        hits = [nid for nid, lines in text.items() if lines[-1].split(":")[0] == layer_name]
        assert len(hits) == 1, layer_name
    output = next(nid for nid, lines in text.items() if lines[0] == "Output")
    reaches = {output}
    changed = True
    while changed:
        changed = False
        for a, b in edges:
            if b in reaches and a not in reaches:
                reaches.add(a)
                changed = True
    assert reaches == set(nodes)


def test_model_labels_follow_netron():
    model = get_model("cnn")
    text = labels(read_dot(G.model_dot(model, (1, 28, 28)))[0])
    firsts = {lines[0] for lines in text.values()}
    assert {"Conv2d 1->32 3x3 s1 p1", "Linear W<10 x 256>", "MaxPool2d 2x2 s2",
            "BatchNorm2d 32", "Dropout p=0.3", "Flatten", "ReLU"} <= firsts
    assert ["Conv2d 1->32 3x3 s1 p1", "(N, 32, 28, 28)", "0: 288 params"] in text.values()
    dot = G.model_dot(model, (1, 28, 28))
    fills = dict(re.findall(r'label="([^"\\]+)\\n.*?fillcolor="(#[0-9a-f]+)"', dot))
    assert fills["Conv2d 1->32 3x3 s1 p1"] == G.STYLES["Layer"][0]
    assert fills["ReLU"] == G.STYLES["Activation"][0]
    assert fills["MaxPool2d 2x2 s2"] == G.STYLES["Pool"][0]
    assert fills["BatchNorm2d 32"] == G.STYLES["Normalization"][0]
    assert fills["Dropout p=0.3"] == G.STYLES["Dropout"][0]
    assert len({G.STYLES[c][0] for c in ("Layer", "Activation", "Pool", "Normalization",
                                         "Dropout", "Shape")}) == 6


def test_branching_model_edges():
    def named_edges(dot):
        nodes, edges = read_dot(dot)
        name = {nid: (lines[-1].split(":")[0] if len(lines) == 3 else lines[0])
                for nid, lines in labels(nodes).items()}
        return {(name[a], name[b]) for a, b in edges}, len(edges)

    edges, count = named_edges(G.model_dot(Skip(), (8,)))
    assert edges == {("Input", "fc1"), ("fc1", "relu"), ("relu", "fc2"), ("Input", "fc3"),
                     ("fc2", "Add"), ("fc3", "Add"), ("Add", "Output")}
    assert count == 7
    edges, _ = named_edges(G.model_dot(Skip(), (8,), show_ops=False))
    assert edges == {("Input", "fc1"), ("fc1", "relu"), ("relu", "fc2"), ("Input", "fc3"),
                     ("fc2", "Output"), ("fc3", "Output")}


def test_module_called_twice_gets_a_node_per_call():
    class Twice(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc, self.act = nn.Linear(4, 4), nn.Tanh()

        def forward(self, x):
            return self.fc(self.act(self.fc(x)))

    nodes, edges = read_dot(G.model_dot(Twice(), (4,)))
    assert len(nodes) == 5 and len(edges) == 4
    assert any(lines[-1].startswith("fc (call 2)") for lines in labels(nodes).values())


# ----- the autograd graph -----
def test_autograd_dot_of_small_mlp():
    model, loss = small_mlp_loss()
    dot = G.autograd_dot(loss, params=dict(model.named_parameters()))
    nodes, edges = read_dot(dot)
    text = labels(nodes)
    names = {lines[0] for lines in text.values()}
    assert {"1.weight", "1.bias", "3.weight", "3.bias"} <= names
    ops = sorted(lines[0] for nid, lines in text.items() if nodes[nid]["shape"] == "box")
    assert ops == ["CrossEntropy", "Linear", "Linear", "ReLU"]
    # 4 ops, 4 parameters + 3 intermediate tensors + the loss; the input batch and the targets
    # do not require grad, so they are constants and not drawn.
    assert len(nodes) == 12
    # Linear(x, W, b): 2 in + 1 out; ReLU 1 + 1; Linear 3 + 1; CrossEntropy(logits, y) 1 + 1.
    assert len(edges) == 11
    shape_of = {nid: nodes[nid]["shape"] for nid in nodes}
    assert all({shape_of[a], shape_of[b]} == {"box", "ellipse"} for a, b in edges)
    assert text[next(n for n in nodes if "1.weight" in text[n])] == ["1.weight",
                                                                   "(16, 12) float32"]
    assert ["output", "() float32"] in text.values()
    assert G.autograd_dot(loss, params=model) == dot          # a Module names them too


def test_autograd_edges_in_data_order_and_deep_graph():
    x = ournn.tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    x.name = "x"
    y = x
    for _ in range(3000):                                      # far beyond the recursion limit
        y = y * 1.0
    nodes, edges = read_dot(G.autograd_dot(y))
    assert len(nodes) == 6001 and len(edges) == 6000
    assert labels(nodes)[edges[0][0]][0] == "x"                # the input comes first


def test_freed_graph_and_no_graph_errors():
    _, loss = small_mlp_loss()
    loss.backward()
    with pytest.raises(GraphError, match="freed by backward"):
        G.autograd_dot(loss)
    with ournn.no_grad():
        _, loss = small_mlp_loss()
    with pytest.raises(GraphError, match="no autograd graph"):
        G.draw_graph(loss, "never-written.svg")


def test_labels_are_escaped_for_dot_and_xml(tmp_path, no_graphviz):
    nasty = 'w"eird\\ <name> & \'quote\''
    w = nn.Parameter(np.ones((2, 2), dtype=np.float32))
    out = (w * 2.0).sum()
    dot = G.draw_graph(out, tmp_path / "g.svg", params={nasty: w, "tab\tnew\nline": w})
    nodes, _ = read_dot(dot)
    assert any(lines[0] == "tab new line" for lines in labels(nodes).values())  # last one wins
    dot = G.autograd_dot(out, params={nasty: w})
    assert any(lines[0] == nasty for lines in labels(read_dot(dot)[0]).values())
    back = G.parse_dot(dot)                                    # our own reader agrees
    assert any(n["label"][0] == nasty for n in back.nodes.values())
    G.render(dot, tmp_path / "g.svg")
    root = ET.parse(tmp_path / "g.svg").getroot()
    assert nasty in ["".join(t.itertext()) for t in root.iter(f"{SVG}tspan")]


def test_parse_dot_round_trip():
    graph = G._model_graph(Skip(), (8,))
    back = G.parse_dot(graph.to_dot())
    assert back.rankdir == graph.rankdir and back.edges == graph.edges
    for nid, node in graph.nodes.items():
        for key in ("label", "shape", "fill", "font", "border", "rounded"):
            assert back.nodes[nid][key] == node[key]


# ----- pictures -----
def test_svg_is_valid_xml_with_a_shape_and_text_per_node(tmp_path, no_graphviz):
    model = get_model("seed_alexnet")
    dot = G.draw_model(model, (1, 28, 28), tmp_path / "alexnet.svg")
    text = (tmp_path / "alexnet.svg").read_text()
    assert "generated by ournn.viz.graph" in text
    root = ET.fromstring(text)
    groups = [g for g in root.iter(f"{SVG}g") if g.get("class") == "node"]
    nodes, edges = read_dot(dot)
    assert len(groups) == len(nodes)
    for g in groups:
        assert len(g.findall(f"{SVG}rect")) + len(g.findall(f"{SVG}ellipse")) == 1
        assert len(g.findall(f"{SVG}text")) == 1
    paths = [p for p in root.iter(f"{SVG}path") if p.get("class") == "edge"]
    assert len(paths) == len(edges)
    assert all(p.get("marker-end") == "url(#arrow)" for p in paths)
    width, height = float(root.get("width")), float(root.get("height"))
    assert 150 < width < 600 and 600 < height < 2000          # a tall chain
    for g in groups:                                           # inside the picture, no overlap
        r = g.find(f"{SVG}rect")
        if r is not None:
            x, y = float(r.get("x")), float(r.get("y"))
            assert 0 <= x and x + float(r.get("width")) <= width
            assert 0 <= y and y + float(r.get("height")) <= height
    boxes = sorted((float(r.get("y")), float(r.get("height")))
                   for r in root.iter(f"{SVG}rect") if r.get("class") != "background")
    assert all(y0 + h0 < y1 for (y0, h0), (y1, _) in zip(boxes, boxes[1:]))


def test_png_via_pillow(tmp_path, no_graphviz):
    from PIL import Image

    _, loss = small_mlp_loss()
    G.draw_graph(loss, tmp_path / "loss.png")
    G.draw_model(Skip(), (8,), tmp_path / "skip.png", rankdir="LR")
    with Image.open(tmp_path / "loss.png") as img:
        assert img.format == "PNG" and 200 < img.width < 2000 and 400 < img.height < 2500
        colours = {c for _, c in img.convert("RGB").getcolors(1 << 20)}
    assert (0x33, 0x55, 0x88) in colours                      # the Layer blue of Linear
    with Image.open(tmp_path / "skip.png") as img:
        assert img.width > img.height                          # left to right


def test_png_without_pillow_falls_back_then_hints(tmp_path, monkeypatch, no_graphviz):
    real = G.importlib.util.find_spec
    monkeypatch.setattr(G.importlib.util, "find_spec",
                        lambda name, *a: None if name == "PIL" else real(name, *a))
    G.draw_model(Skip(), (8,), tmp_path / "mpl.png")
    assert (tmp_path / "mpl.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    monkeypatch.setattr(G.importlib.util, "find_spec",
                        lambda name, *a: None if name in ("PIL", "matplotlib")
                        else real(name, *a))
    with pytest.raises(ImportError, match=r"pip install 'ournn\[viz\]'"):
        G.draw_model(Skip(), (8,), tmp_path / "none.png")
    G.draw_model(Skip(), (8,), tmp_path / "fine.svg")         # SVG and DOT need nothing
    G.draw_model(Skip(), (8,), tmp_path / "fine.dot")
    assert not (tmp_path / "none.png").exists()


def test_graphviz_is_used_when_present(tmp_path, monkeypatch):
    fake = tmp_path / "dot"
    fake.write_text("#!/bin/sh\ncat > /dev/null\necho '<svg id=\"from-graphviz\"/>'\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: str(fake) if name == "dot"
                        else None)
    G.draw_model(Skip(), (8,), tmp_path / "gv.svg")
    assert "from-graphviz" in (tmp_path / "gv.svg").read_text()
    G.draw_model(Skip(), (8,), tmp_path / "own.svg", engine="ournn")
    assert "generated by ournn" in (tmp_path / "own.svg").read_text()


def test_dot_file_and_lazy_exports(tmp_path):
    dot = ournn.viz.draw_model(Skip(), (8,), tmp_path / "skip.dot")
    assert (tmp_path / "skip.dot").read_text() == dot
    assert ournn.viz.draw_graph is G.draw_graph and ournn.viz.model_dot is G.model_dot
    assert ournn.viz.autograd_dot is G.autograd_dot
    assert not [f for f in os.listdir(tmp_path) if f.startswith(".tmp-")]   # atomic writes


def test_residual_block_with_functional_ops_is_drawn_as_computed():
    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(2, 2, 3, padding=1)
            self.conv2 = nn.Conv2d(2, 2, 3, padding=1)

        def forward(self, x):
            return self.conv2(F.relu(self.conv1(x))) + x

    model = Block()
    nodes, edges = read_dot(G.model_dot(model, (2, 5, 5)))
    name = {nid: (lines[-1].split(":")[0] if len(lines) == 3 else lines[0])
            for nid, lines in labels(nodes).items()}
    assert {(name[a], name[b]) for a, b in edges} == {
        ("Input", "conv1"), ("conv1", "ReLU"), ("ReLU", "conv2"), ("conv2", "Add"),
        ("Input", "Add"), ("Add", "Output")}
    assert "forward" not in model.__dict__ and not model.__dict__.get("_hooks")


def test_split_files_keep_the_old_names():
    from ournn.viz import dot, layout, model_graph, render_png, render_svg, styles
    assert G.parse_dot is dot.parse_dot and G.Graph is dot.Graph
    assert G.layout is layout.layout and G.to_svg is render_svg.to_svg
    assert G.to_png is render_png.to_png and G.STYLES is styles.STYLES
    assert G.model_dot is model_graph.model_dot and G.PNG_HINT == render_png.PNG_HINT
