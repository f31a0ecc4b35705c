"""A laid-out ``Graph`` drawn as PNG: with Pillow, else with matplotlib (the ``viz`` extra)."""
import importlib.util
import io
import math
import os

from .layout import FONT_SIZE, LINE_HEIGHT, layout
from .render_svg import EDGE_COLOUR

PNG_HINT = ("pip install 'ournn[viz]' or install Graphviz (apt-get install graphviz) to write "
            "PNG; SVG and DOT need nothing")


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
