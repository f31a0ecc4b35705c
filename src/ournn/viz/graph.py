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
  does (Layer, Activation, Pool, Normalization, Dropout, Shape). The edges come from a trace
  (``ournn.tracing``) of one forward pass on zeros, so a skip connection in a subclassed model
  is drawn as it is computed; arithmetic done between layers (the ``+`` of a residual) appears
  as a small op node (``show_ops=False`` hides it).

``render(graph_or_dot, path)`` writes ``.dot``/``.gv`` as text; ``.svg`` and ``.png`` go
through Graphviz's ``dot`` program when it is on the PATH, otherwise through our own layered
(Sugiyama-style) layout: longest-path layers, barycenter sweeps against crossings, positions
by isotonic regression, SVG written by hand, PNG drawn with Pillow (or matplotlib).
Files are written atomically. Netron opens the ``.dot`` files as they are.

This file holds the entry points; the work is done in files named for their job:
``styles`` (categories and colours), ``dot`` (``Graph``, its DOT text and ``parse_dot``),
``autograd_graph`` and ``model_graph`` (the two graphs), ``layout`` (where nodes and edges
go), ``render_svg`` and ``render_png`` (the pictures).
"""
import importlib.util  # noqa: F401 (ournn.viz.graph.importlib, as before the split)
import os
import shutil
import subprocess
import warnings

import numpy as np

# The parts, each in the file named for its job; their names stay importable from here.
from .autograd_graph import _autograd_graph, autograd_dot
from .dot import Graph, parse_dot
from .layout import Layout, estimate_text_width, layout  # noqa: F401
from .model_graph import _model_graph, layer_title, model_dot  # noqa: F401
from .render_png import PNG_HINT, to_png  # noqa: F401
from .render_svg import to_svg
from .styles import STYLES, category  # noqa: F401

__all__ = ["Graph", "autograd_dot", "draw_graph", "draw_model", "model_dot", "model_svg",
           "parse_dot", "render"]


def model_svg(model, input_shape, rankdir="TB", show_ops=True, dtype=np.float32):
    """SVG text of the drawing of ``model_dot``, laid out by ournn (no Graphviz needed)."""
    return to_svg(_model_graph(model, input_shape, rankdir, show_ops, dtype))


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
    from ..files import atomic_write_bytes

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
