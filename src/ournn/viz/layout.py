"""Where each node and edge of a ``Graph`` goes: a layered (Sugiyama-style) layout. Layers by
longest path, order within layers by barycenter sweeps, coordinates by isotonic regression,
edges as cubic segments through one dummy node per layer crossed."""
import bisect
import math

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


class _Work:
    """The layout's working state, filled in by the steps of ``layout`` in turn. Nodes are
    numbered: the graph's ``n`` nodes first (in insertion order), then the dummy nodes that
    carry long edges through the layers they cross."""

    def __init__(self, graph, measure):
        self.graph = graph
        self.ids = list(graph.nodes)
        self.n = len(self.ids)
        self.index = {nid: i for i, nid in enumerate(self.ids)}
        self.tb = graph.rankdir == "TB"
        self.sizes = [_node_size(graph.nodes[nid], measure) for nid in self.ids]
        self.along = [w if self.tb else h for w, h in self.sizes]    # size along a layer
        self.across = [h if self.tb else w for w, h in self.sizes]   # size across layers
        self.rank_sep = 34.0 if self.tb else 48.0


def layout(graph, measure=estimate_text_width, margin=16.0):
    """Lay ``graph`` out in layers (top to bottom, or left to right for ``rankdir="LR"``)."""
    w = _Work(graph, measure)
    if w.n == 0:
        return Layout({}, [], 2 * margin, 2 * margin)
    _assign_layers(w)
    _add_dummy_nodes(w)
    _order_within_layers(w)
    _place_along_layers(w)
    boxes, width, height = _place_across_layers(w, margin)
    return Layout(boxes, _route_edges(w, boxes), width, height)


def _assign_layers(w):
    """Step 1: a topological order (cycles broken by it: an edge against it is reversed and
    marked flipped), then longest-path layers. Sets ``edges``, ``topo`` and ``layer``."""
    ids, n = w.ids, w.n
    order_pos = {nid: i for i, nid in enumerate(w.graph.topological_order())}
    edges = []
    for a, b in w.graph.edges:
        if a == b:
            continue
        u, v = w.index[a], w.index[b]
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
    w.edges, w.topo, w.layer = edges, topo, [lv - low for lv in layer]


def _add_dummy_nodes(w):
    """Step 2: long edges become chains of dummy nodes, one per layer crossed; within a
    budget, so that a tensor used all along a deep graph costs no quadratic time (beyond the
    budget the longest edges are drawn directly and take no part in the ordering). Sets
    ``chains`` ([(node chain, flipped)] per edge), ``lsucc``/``lpred`` (neighbours in the
    next/previous layer), ``total`` (nodes with dummies) and ``n_layers``."""
    edges, layer = w.edges, w.layer
    lsucc = [[] for _ in range(w.n)]
    lpred = [[] for _ in range(w.n)]
    chains = []
    budget = max(4000, 3 * w.n)
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
            w.along.append(6.0)
            w.across.append(0.0)
            lsucc.append([])
            lpred.append([])
            chain.append(d)
        chain.append(v)
        for a, b in zip(chain, chain[1:]):
            lsucc[a].append(b)
            lpred[b].append(a)
        chains.append((chain, flipped))
    w.lsucc, w.lpred, w.chains = lsucc, lpred, chains
    w.total, w.n_layers = len(layer), max(layer) + 1


def _order_within_layers(w):
    """Step 3: order within layers: depth-first order first, then barycenter sweeps down and
    up, keeping the order with the fewest crossings. Sets ``layers`` (node lists) and
    ``pos`` (each node's place in its layer)."""
    seen = [False] * w.total
    layers = [[] for _ in range(w.n_layers)]
    roots = [v for v in w.topo if not w.lpred[v]] + w.topo
    for r in roots:
        stack = [r]
        while stack:
            v = stack.pop()
            if seen[v]:
                continue
            seen[v] = True
            layers[w.layer[v]].append(v)
            stack.extend(reversed(w.lsucc[v]))
    pos = [0] * w.total
    _number_positions(layers, pos)
    best, best_count = [list(lst) for lst in layers], _count_crossings(layers, pos, w.lsucc)
    rounds = 12 if w.total < 2000 else 4
    for _ in range(rounds):
        if best_count == 0:
            break
        _barycenter_sweep(layers, pos, range(1, w.n_layers), w.lpred)
        _barycenter_sweep(layers, pos, range(w.n_layers - 2, -1, -1), w.lsucc)
        c = _count_crossings(layers, pos, w.lsucc)
        if c < best_count:
            best, best_count = [list(lst) for lst in layers], c
    _number_positions(best, pos)
    w.layers, w.pos = best, pos


def _number_positions(layers, pos):
    for lst in layers:
        for i, v in enumerate(lst):
            pos[v] = i


def _count_crossings(layers, pos, lsucc):
    """Edge crossings between consecutive layers (counted with a Fenwick tree)."""
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


def _barycenter_sweep(layers, pos, rng, nbrs):
    """Sort each layer in ``rng`` by the mean position of its neighbours ``nbrs``."""
    for li in rng:
        lst = layers[li]
        bary = {}
        for v in lst:
            ps = nbrs[v]
            bary[v] = sum(pos[u] for u in ps) / len(ps) if ps else pos[v]
        lst.sort(key=lambda v: (bary[v], pos[v]))
        for i, v in enumerate(lst):
            pos[v] = i


def _gap(w, a, b):
    """The distance between the centres of neighbours ``a`` and ``b`` in a layer."""
    real = a < w.n and b < w.n
    return (w.along[a] + w.along[b]) / 2 + (18.0 if real else 14.0)


def _place_along_layers(w):
    """Step 4: coordinates along each layer: as near the neighbours' mean as spacing allows
    (sweeps down and up, then both ways), then nearly straight edges made straight. Sets
    ``coord``."""
    w.coord = coord = [0.0] * w.total
    layers, lpred, lsucc = w.layers, w.lpred, w.lsucc
    for lst in layers:
        x = 0.0
        for i, v in enumerate(lst):
            if i:
                x += _gap(w, lst[i - 1], v)
            coord[v] = x
    for lst in layers:       # centre the layers on each other to start with
        mid = (coord[lst[0]] + coord[lst[-1]]) / 2 if lst else 0.0
        for v in lst:
            coord[v] -= mid
    w.leaf = [v < w.n and len(lpred[v]) + len(lsucc[v]) == 1 for v in range(w.total)]
    both = [lpred[v] + lsucc[v] for v in range(w.total)]
    small = w.total < 3000
    for _ in range(8 if small else 2):
        for li in range(1, w.n_layers):
            _place_layer(w, layers[li], lpred)
        for li in range(w.n_layers - 2, -1, -1):
            _place_layer(w, layers[li], lsucc)
    for _ in range(4 if small else 1):
        for li in range(w.n_layers):
            _place_layer(w, layers[li], both)
    _straighten(w)


def _place_layer(w, lst, nbrs):
    """Each node of layer ``lst`` goes to the weighted median of its neighbours (a straight
    line wins over a compromise), then the layer is spread out as little as possible.
    Segments between dummies weigh most (Gansner et al.'s 1, 2, 8), so long edges run
    straight; a leaf (a parameter feeding one op) hardly pulls, so the main chain stays
    straight with the parameters beside it."""
    coord, leaf, n = w.coord, w.leaf, w.n
    desired, weights = [], []
    for v in lst:
        pulls = [(coord[u], 0.3 if leaf[u] else
                  1 + (u >= n) + (v >= n) + 5 * (u >= n and v >= n)) for u in nbrs[v]]
        total_w = sum(wt for _, wt in pulls)
        desired.append(_weighted_median(pulls) if pulls else coord[v])
        weights.append((total_w if pulls else 0.25) * (0.1 if leaf[v] else 1.0))
    seps = [0.0] + [_gap(w, a, b) for a, b in zip(lst, lst[1:])]
    for v, x in zip(lst, _spaced_fit(desired, seps, weights)):
        coord[v] = x


def _straighten(w):
    """A nearly straight edge is made straight when there is room."""
    coord = w.coord
    for lst in w.layers:
        for i, v in enumerate(lst):
            if len(set(w.lpred[v])) != 1:
                continue
            target = coord[w.lpred[v][0]]
            if abs(target - coord[v]) > 40 or \
                    (i and target - coord[lst[i - 1]] < _gap(w, lst[i - 1], v)) or \
                    (i + 1 < len(lst) and coord[lst[i + 1]] - target < _gap(w, v, lst[i + 1])):
                continue
            coord[v] = target


def _place_across_layers(w, margin):
    """Step 5: across layers, each layer as thick as its largest node, and layers further
    apart where edges between them run far sideways, so they stay legible. Sets
    ``centre_of_layer`` and ``shift``; returns the boxes {id: (cx, cy, w, h)}, width and
    height."""
    coord, layer, along = w.coord, w.layer, w.along
    thick = [0.0] * w.n_layers
    for v in range(w.n):
        thick[layer[v]] = max(thick[layer[v]], w.across[v])
    sideways = [0.0] * w.n_layers
    for v in range(w.total):
        for u in w.lsucc[v]:
            sideways[layer[v]] = max(sideways[layer[v]], abs(coord[v] - coord[u]))
    centre_of_layer, t = [], margin
    for li, th in enumerate(thick):
        centre_of_layer.append(t + th / 2)
        t += th + min(max(w.rank_sep, 0.3 * sideways[li]), 3 * w.rank_sep)
    extent_across = t - w.rank_sep + margin
    w.shift = margin - min(coord[v] - along[v] / 2 for v in range(w.total))
    extent_along = max(coord[v] + along[v] / 2 for v in range(w.total)) + w.shift + margin
    w.centre_of_layer = centre_of_layer
    boxes = {}
    for v in range(w.n):
        cx, cy = _point(w, v)
        boxes[w.ids[v]] = (cx, cy, w.sizes[v][0], w.sizes[v][1])
    width, height = (extent_along, extent_across) if w.tb else (extent_across, extent_along)
    return boxes, width, height


def _point(w, v):
    """The (x, y) centre of node or dummy ``v``."""
    a, c = w.coord[v] + w.shift, w.centre_of_layer[w.layer[v]]
    return (a, c) if w.tb else (c, a)


def _route_edges(w, boxes):
    """Step 6: edges: ports spread along a node's side, cubic segments through the dummies;
    a flipped edge is turned back to run from its source. Returns [(src, dst, segments)]."""
    n, tb, coord = w.n, w.tb, w.coord
    out_ports = [[] for _ in range(n)]
    in_ports = [[] for _ in range(n)]
    for k, (chain, _) in enumerate(w.chains):
        out_ports[chain[0]].append((coord[chain[1]], k))
        in_ports[chain[-1]].append((coord[chain[-2]], k))
    start_off, end_off = {}, {}
    for v in range(n):
        for ports, offsets in ((out_ports[v], start_off), (in_ports[v], end_off)):
            ports.sort()
            k = len(ports)
            step = min(12.0, w.along[v] * 0.7 / max(k, 1))
            for i, (_, e) in enumerate(ports):
                offsets[e] = (i - (k - 1) / 2) * step

    def border(v, off, bottom):
        cx, cy, bw, bh = boxes[w.ids[v]]
        half_across = (bh if tb else bw) / 2
        if w.graph.nodes[w.ids[v]]["shape"] == "ellipse":
            half_along = (bw if tb else bh) / 2
            half_across *= math.sqrt(max(0.0, 1 - (off / half_along) ** 2))
        sign = 1 if bottom else -1
        return (cx + off, cy + sign * half_across) if tb else (cx + sign * half_across, cy + off)

    paths = []
    for k, (chain, flipped) in enumerate(w.chains):
        pts = [border(chain[0], start_off[k], True)]
        pts += [_point(w, d) for d in chain[1:-1]]
        pts.append(border(chain[-1], end_off[k], False))
        segments = []
        for p, q in zip(pts, pts[1:]):
            if tb:
                dy = (q[1] - p[1]) / 2
                segments.append((p, (p[0], p[1] + dy), (q[0], q[1] - dy), q))
            else:
                dx = (q[0] - p[0]) / 2
                segments.append((p, (p[0] + dx, p[1]), (q[0] - dx, q[1]), q))
        src, dst = w.ids[chain[0]], w.ids[chain[-1]]
        if flipped:
            segments = [(q, c2, c1, p) for p, c1, c2, q in reversed(segments)]
            src, dst = dst, src
        paths.append((src, dst, segments))
    return paths


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
