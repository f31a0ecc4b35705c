// What each unit computes, for 2-D data (as TensorFlow Playground draws it): a small heatmap
// per input and hidden unit over the plane, and the connections between them drawn with a
// width and colour by weight (blue positive, orange negative). Hover a unit to enlarge it.
"use strict";

import { classColour, el, hexToRgb } from "./dom.js";

const SVG_NS = "http://www.w3.org/2000/svg";
const SIZE = 34;        // px, one unit's picture
const GAP = 8;          // px between units of a column
const POSITIVE = hexToRgb("#0877bd"), NEGATIVE = hexToRgb("#f59322");

/** The colour of a value in -100..100: white at 0, blue above, orange below. */
function shade(v) {
  const t = Math.min(1, Math.abs(v) / 100);
  const [r, g, b] = v >= 0 ? POSITIVE : NEGATIVE;
  return [255 + (r - 255) * t, 255 + (g - 255) * t, 255 + (b - 255) * t];
}

/** A small picture {h, w, v: values in -100..100} as a canvas: diverging (weights) or
 * grey (activations). */
export function pictureCanvas(picture, { grey = false } = {}) {
  const canvas = el("canvas", { width: picture.w, height: picture.h });
  const ctx = canvas.getContext("2d");
  const image = ctx.createImageData(picture.w, picture.h);
  picture.v.forEach((v, i) => {
    const [r, g, b] = grey ? Array(3).fill(Math.max(0, v) * 2.55) : shade(v);
    image.data.set([r, g, b, 255], 4 * i);
  });
  ctx.putImageData(image, 0, 0);
  return canvas;
}

function paint(canvas, values, n) {
  const ctx = canvas.getContext("2d");
  const image = ctx.createImageData(n, n);
  for (let i = 0; i < n * n; i++) {
    const [r, g, b] = shade(values[i]);
    image.data[4 * i] = r; image.data[4 * i + 1] = g; image.data[4 * i + 2] = b; image.data[4 * i + 3] = 255;
  }
  ctx.putImageData(image, 0, 0);
}

/**
 * Draw U = {n, layers: [{name, units: [[n*n values in -100..100]]}], weights: [out x in]}
 * into `container`, with `classes` output boxes; null clears it. The structure is built once
 * per network shape and only repainted afterwards (updates come twice a second).
 */
export function renderUnits(container, units, classes) {
  if (!units) {
    container.replaceChildren(el("p", { class: "hint" },
      "Each unit's output over the plane appears here as the network trains (2-D data, up to 32 units a layer)."));
    container.dataset.shape = "";
    return;
  }
  const columns = units.layers.map((l) => l.units.length).concat([classes.length]);
  const shape = `${units.n}:${columns.join(",")}`;
  if (container.dataset.shape !== shape) build(container, units, columns, classes);
  container.dataset.shape = shape;
  const canvases = container.querySelectorAll("canvas.unit");
  let k = 0;
  for (const layer of units.layers) {
    for (const values of layer.units) paint(canvases[k++], values, units.n);
  }
  const lines = container.querySelectorAll("line");
  let max = 1e-6;
  for (const w of units.weights) for (const row of w) for (const v of row) max = Math.max(max, Math.abs(v));
  let li = 0;
  units.weights.forEach((w) => {
    for (let j = 0; j < w.length; j++) {
      for (let i = 0; i < w[j].length; i++) {
        const line = lines[li++];
        if (!line) continue;
        const t = Math.abs(w[j][i]) / max;
        line.setAttribute("stroke", w[j][i] >= 0 ? "#0877bd" : "#f59322");
        line.setAttribute("stroke-width", (0.4 + 3.2 * t).toFixed(2));
        line.setAttribute("stroke-opacity", (0.2 + 0.7 * t).toFixed(2));
        line.dataset.weight = String(w[j][i]);
      }
    }
  });
}

function build(container, units, columns, classes) {
  const tallest = Math.max(...columns);
  const height = tallest * (SIZE + GAP) - GAP;
  const width = Math.max(320, columns.length * (SIZE + 70));
  const x = (c) => Math.round((c * (width - SIZE)) / Math.max(1, columns.length - 1));
  const y = (count, i) => Math.round((height - (count * (SIZE + GAP) - GAP)) / 2 + i * (SIZE + GAP));
  const svg = document.createElementNS(SVG_NS, "svg");
  svg.setAttribute("width", width);
  svg.setAttribute("height", height);
  svg.setAttribute("aria-hidden", "true");
  const net = el("div", { class: "units-net", style: `width:${width}px;height:${height}px` }, svg);
  for (let c = 0; c + 1 < columns.length; c++) {
    for (let j = 0; j < columns[c + 1]; j++) {
      for (let i = 0; i < columns[c]; i++) {
        const line = document.createElementNS(SVG_NS, "line");
        line.setAttribute("x1", x(c) + SIZE);
        line.setAttribute("y1", y(columns[c], i) + SIZE / 2);
        line.setAttribute("x2", x(c + 1));
        line.setAttribute("y2", y(columns[c + 1], j) + SIZE / 2);
        svg.append(line);
      }
    }
  }
  units.layers.forEach((layer, c) => {
    layer.units.forEach((_, i) => {
      const title = c === 0 ? `input x${i + 1}` : `${layer.name}, unit ${i + 1}`;
      net.append(el("canvas", { class: "unit", width: units.n, height: units.n, title, "aria-label": title,
                                "data-testid": "unit-map", style: `left:${x(c)}px;top:${y(columns[c], i)}px` }));
    });
  });
  const last = columns.length - 1;
  classes.forEach((name, i) => {
    net.append(el("span", { class: "unit-out", title: `output: class ${name}`,
                            style: `left:${x(last)}px;top:${y(columns[last], i)}px;background:${classColour(i)}` }, name));
  });
  const heads = el("div", { class: "units-heads", style: `width:${width}px` },
    units.layers.map((l, c) => el("span", { style: `left:${x(c)}px` }, c === 0 ? "inputs" : l.name)),
    el("span", { style: `left:${x(last)}px` }, "output"));
  container.replaceChildren(el("div", { class: "units-scroll" }, heads, net));
}
