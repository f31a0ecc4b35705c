// Line charts drawn as SVG by hand: axes with "nice" ticks, light gridlines, a legend.
"use strict";

const SVG_NS = "http://www.w3.org/2000/svg";
const MARGIN = { top: 26, right: 14, bottom: 30, left: 46 };

/** Create an SVG element with attributes. */
function svgEl(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v !== null && v !== undefined) node.setAttribute(k, String(v));
  }
  if (text !== undefined) node.textContent = text;
  return node;
}

/** A step of 1, 2 or 5 times a power of ten, so that about `count` ticks cover `span`. */
function niceStep(span, count) {
  const raw = span / Math.max(1, count);
  const power = 10 ** Math.floor(Math.log10(raw));
  const f = raw / power;
  return power * (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10);
}

/** Tick values from lo to hi (inclusive, rounded to the step). */
export function ticks(lo, hi, count = 5) {
  if (!(hi > lo)) return [lo];
  const step = niceStep(hi - lo, count);
  const out = [];
  for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step) {
    out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  }
  return out;
}

/** The range of all finite y (or x) values of the series. */
function extent(series, axis) {
  let lo = Infinity, hi = -Infinity;
  for (const s of series) {
    for (const p of s.points) {
      const v = p[axis];
      if (Number.isFinite(v)) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
    }
  }
  return [lo, hi];
}

/** An SVG path "M x,y L x,y ..." through the points, broken at missing values. */
function pathData(points, sx, sy) {
  let d = "", pen = false;
  for (const [x, y] of points) {
    if (!Number.isFinite(x) || !Number.isFinite(y)) { pen = false; continue; }
    d += `${pen ? "L" : "M"}${sx(x).toFixed(1)},${sy(y).toFixed(1)}`;
    pen = true;
  }
  return d;
}

/**
 * Draw a chart into `svg`.
 * spec = {
 *   title, xLabel,
 *   series: [{label, cls, color, points: [[x, y]], line: true, dots: false, width, opacity}],
 *   xDomain: [lo, hi] (optional), yDomain: [lo, hi] (optional; a null end is automatic),
 *   xFormat, yFormat: value -> tick text, empty: text shown when there is nothing to draw
 * }
 */
export function renderChart(svg, spec) {
  const width = Math.max(240, Math.round(svg.clientWidth || 480));
  const height = Math.max(100, Math.round(svg.clientHeight || 210));
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.replaceChildren();
  if (spec.yLog) {                // plot log10(y): positive values only, ticks read as y
    spec = { ...spec, yDomain: null, yFormat: (v) => String(+(10 ** v).toPrecision(2)),
             series: spec.series.map((s) => ({ ...s, points: s.points.map(([x, y]) => [x, y > 0 ? Math.log10(y) : NaN]) })) };
  }

  // The legend goes beside the title when it fits, else in rows below it (never over it).
  const full = width - MARGIN.left - MARGIN.right;
  const legendRows = layoutLegend(spec.series, full - titleWidth(spec.title), full);
  const top = legendRows.beside ? MARGIN.top : MARGIN.top + 16 * legendRows.rows.length;
  const plot = { x0: MARGIN.left, x1: width - MARGIN.right, y0: height - MARGIN.bottom, y1: top };
  const series = spec.series.filter((s) => s.points.length > 0);
  let [xlo, xhi] = spec.xDomain || extent(series, 0);
  let [ylo, yhi] = extent(series, 1);
  if (spec.yDomain) {
    if (spec.yDomain[0] !== null) ylo = Math.min(spec.yDomain[0], ylo);
    if (spec.yDomain[1] !== null) yhi = Math.max(spec.yDomain[1], yhi);
  }
  const empty = series.length === 0 || !Number.isFinite(ylo);
  if (empty) { xlo = 0; xhi = 1; ylo = 0; yhi = 1; }
  if (!(xhi > xlo)) xhi = xlo + 1;
  if (!(yhi > ylo)) { yhi = ylo + (Math.abs(ylo) || 1) * 0.1; }
  // Round the y range out to whole ticks so that the top line is labelled.
  const yStep = niceStep(yhi - ylo, 4);
  ylo = Math.floor(ylo / yStep + 1e-9) * yStep;
  yhi = Math.ceil(yhi / yStep - 1e-9) * yStep;

  const sx = (x) => plot.x0 + ((x - xlo) / (xhi - xlo)) * (plot.x1 - plot.x0);
  const sy = (y) => plot.y0 - ((y - ylo) / (yhi - ylo)) * (plot.y0 - plot.y1);
  const xFormat = spec.xFormat || ((v) => String(+v.toFixed(6)));
  const yFormat = spec.yFormat || ((v) => String(+v.toFixed(6)));

  drawGrid(svg, plot, ticks(xlo, xhi, 6), ticks(ylo, yhi, 4), sx, sy, xFormat, yFormat);
  svg.append(svgEl("text", { x: plot.x0, y: 14, class: "title" }, spec.title || ""));
  if (spec.xLabel) {
    svg.append(svgEl("text", { x: plot.x1, y: height - 4, "text-anchor": "end" }, spec.xLabel));
  }
  if (empty) {
    svg.append(svgEl("text", { x: (plot.x0 + plot.x1) / 2, y: (plot.y0 + plot.y1) / 2,
                               "text-anchor": "middle", class: "empty" }, spec.empty || "no data yet"));
  }
  const clipId = `${svg.id || "chart"}-clip`;
  const defs = svgEl("defs");
  const clip = svgEl("clipPath", { id: clipId });
  clip.append(svgEl("rect", { x: plot.x0 - 4, y: plot.y1 - 4, width: plot.x1 - plot.x0 + 8,
                              height: plot.y0 - plot.y1 + 8 }));
  defs.append(clip);
  svg.append(defs);
  const layer = svgEl("g", { "clip-path": `url(#${clipId})` });
  for (const s of spec.series) drawSeries(layer, s, sx, sy);
  svg.append(layer);
  drawLegend(svg, legendRows, plot);
}

function titleWidth(title) {
  return (title || "").length * 7.5 + 16;
}

function itemWidth(s) {
  return 24 + s.label.length * 5.6;
}

/** Legend items in rows (right-aligned): one row beside the title when it fits in `room`,
 * else rows of at most `full` pixels below it. */
function layoutLegend(series, room, full) {
  const widths = series.map(itemWidth);
  const total = widths.reduce((a, b) => a + b + 6, 0);
  if (total <= room) return { beside: true, rows: [series] };
  const rows = [];
  let row = [], used = 0;
  series.forEach((s, i) => {
    if (row.length && used + widths[i] > full) { rows.push(row); row = []; used = 0; }
    row.push(s);
    used += widths[i] + 6;
  });
  if (row.length) rows.push(row);
  return { beside: false, rows };
}

function drawGrid(svg, plot, xTicks, yTicks, sx, sy, xFormat, yFormat) {
  const grid = svgEl("g", { class: "grid" });
  for (const v of yTicks) {
    const y = sy(v);
    grid.append(svgEl("line", { x1: plot.x0, x2: plot.x1, y1: y, y2: y }));
    svg.append(svgEl("text", { x: plot.x0 - 6, y: y + 3.5, "text-anchor": "end" }, yFormat(v)));
  }
  for (const v of xTicks) {
    const x = sx(v);
    grid.append(svgEl("line", { x1: x, x2: x, y1: plot.y1, y2: plot.y0 }));
    svg.append(svgEl("text", { x, y: plot.y0 + 15, "text-anchor": "middle" }, xFormat(v)));
  }
  svg.prepend(grid);
  svg.append(svgEl("line", { x1: plot.x0, x2: plot.x1, y1: plot.y0, y2: plot.y0, class: "axis-line" }));
  svg.append(svgEl("line", { x1: plot.x0, x2: plot.x0, y1: plot.y1, y2: plot.y0, class: "axis-line" }));
}

function drawSeries(layer, s, sx, sy) {
  const opacity = s.opacity ?? 1;
  if (s.line !== false) {
    // Always present (possibly empty) so that the page has a stable element per series.
    layer.append(svgEl("path", { class: `series ${s.cls || ""}`, d: pathData(s.points, sx, sy),
                                 fill: "none", stroke: s.color, "stroke-width": s.width || 2,
                                 "stroke-opacity": opacity, "stroke-linejoin": "round",
                                 "stroke-dasharray": s.dash || null }));
  }
  if (s.dots) {
    const g = svgEl("g", { class: `dots ${s.cls || ""}`, fill: s.color });
    for (const [x, y] of s.points) {
      if (!Number.isFinite(x) || !Number.isFinite(y)) continue;
      const dot = svgEl("circle", { cx: sx(x).toFixed(1), cy: sy(y).toFixed(1), r: 3.5,
                                    stroke: "#fff", "stroke-width": 1.2 });
      dot.append(svgEl("title", {}, `${s.label}: ${+y.toPrecision(4)} (epoch ${+x.toFixed(2)})`));
      g.append(dot);
    }
    layer.append(g);
  }
}

/** The legend, right-aligned above the plot, one swatch per series. */
function drawLegend(svg, layout, plot) {
  const g = svgEl("g", { class: "legend" });
  layout.rows.forEach((row, r) => drawLegendRow(g, row, plot, layout.beside ? 10 : 30 + 16 * r));
  svg.append(g);
}

function drawLegendRow(g, series, plot, y) {
  let x = plot.x1;
  for (const s of [...series].reverse()) {
    const w = itemWidth(s);
    x -= w;
    const item = svgEl("g", { transform: `translate(${x.toFixed(1)},${y})` });
    item.append(svgEl("line", { x1: 0, x2: 14, y1: 0, y2: 0, stroke: s.color, "stroke-width": s.dots && s.line === false ? 0 : 2,
                                "stroke-opacity": Math.max(0.6, s.opacity ?? 1), "stroke-dasharray": s.dash || null }));
    if (s.dots) item.append(svgEl("circle", { cx: 7, cy: 0, r: 3.2, fill: s.color }));
    item.append(svgEl("text", { x: 18, y: 4 }, s.label));
    g.append(item);
    x -= 6;
  }
}

/** Exponential moving average of `values` with weight `a` (0: none), debiased at the start
 * as TensorBoard's smoothing is. */
export function smooth(values, a) {
  if (!a) return values;
  let s = 0, w = 0;
  return values.map((v) => {
    if (!Number.isFinite(v)) return v;
    s = a * s + (1 - a) * v;
    w = a * w + (1 - a);
    return s / w;
  });
}
