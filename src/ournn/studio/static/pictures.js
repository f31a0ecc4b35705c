// Pictures drawn on <canvas>: grayscale digits, 2-D points and the decision boundary.
"use strict";

import { classColour, el, hexToRgb } from "./dom.js";

/**
 * A canvas showing a square grayscale image given as a flat list of ints 0..255
 * (MNIST: 784 values, white ink on black). CSS scales it up with crisp pixels.
 */
export function grayCanvas(pixels) {
  const side = Math.round(Math.sqrt(pixels.length));
  const canvas = el("canvas", { width: side, height: side });
  const ctx = canvas.getContext("2d");
  const image = ctx.createImageData(side, side);
  for (let i = 0; i < side * side; i++) {
    const v = pixels[i] | 0;
    image.data.set([v, v, v, 255], 4 * i);
  }
  ctx.putImageData(image, 0, 0);
  return canvas;
}

/** The x and y ranges of the points, widened by `pad` of their size on every side. */
export function rangeOf(points, pad = 0.1) {
  let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
  for (const [x, y] of points) {
    x0 = Math.min(x0, x); x1 = Math.max(x1, x);
    y0 = Math.min(y0, y); y1 = Math.max(y1, y);
  }
  if (!Number.isFinite(x0)) return { xrange: [-1, 1], yrange: [-1, 1] };
  const dx = (x1 - x0 || 1) * pad, dy = (y1 - y0 || 1) * pad;
  return { xrange: [x0 - dx, x1 + dx], yrange: [y0 - dy, y1 + dy] };
}

/** Functions mapping data coordinates to canvas pixels (y grows upwards) and back. */
export function mapping(canvas, xrange, yrange) {
  const w = canvas.width, h = canvas.height;
  return {
    toPx: (x, y) => [((x - xrange[0]) / (xrange[1] - xrange[0])) * w,
                     ((yrange[1] - y) / (yrange[1] - yrange[0])) * h],
    toData: (px, py) => [xrange[0] + (px / w) * (xrange[1] - xrange[0]),
                         yrange[1] - (py / h) * (yrange[1] - yrange[0])],
  };
}

/**
 * Draw the 2-D plane: the decision boundary B (when given), then the points on top.
 * boundary: {n, xrange, yrange, pred: [n*n], conf: [n*n]} or null
 * points:   {x: [[x0, x1]], y: [class]} or null
 * Returns the mapping used, so that clicks can be turned back into coordinates.
 */
export function drawPlane(canvas, boundary, points, nClasses, { test = false } = {}) {
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  ctx.fillStyle = "#ffffff";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  const range = boundary ? boundaryRange(boundary) : rangeOf(points ? points.x : []);
  const map = mapping(canvas, range.xrange, range.yrange);
  if (boundary) (boundary.values ? drawSurface : drawBoundary)(ctx, canvas, boundary, nClasses);
  drawAxes(ctx, canvas, map);
  if (points) drawPoints(ctx, map, points);
  if (points && test && points.test_x) drawTestPoints(ctx, map, points);
  return { ...map, ...range };
}

/**
 * The grid's values are taken at n points from lo to hi inclusive: each is the centre of a
 * cell, so the picture reaches half a cell beyond lo and hi.
 */
function boundaryRange(b) {
  const half = (r) => (r[1] - r[0]) / (2 * Math.max(1, b.n - 1));
  const hx = half(b.xrange), hy = half(b.yrange);
  return { xrange: [b.xrange[0] - hx, b.xrange[1] + hx], yrange: [b.yrange[0] - hy, b.yrange[1] + hy] };
}

/**
 * Each cell of the n x n grid gets its predicted class's colour, more opaque when the
 * network is more confident. The small image is scaled up smoothly to the canvas.
 */
function drawBoundary(ctx, canvas, b, nClasses) {
  const n = b.n;
  const small = el("canvas", { width: n, height: n });
  const sctx = small.getContext("2d");
  const image = sctx.createImageData(n, n);
  const chance = 1 / Math.max(2, nClasses);
  for (let i = 0; i < n * n; i++) {
    const [r, g, bl] = hexToRgb(classColour(b.pred[i]));
    // conf goes from chance (1/C) to 1: map it to an alpha of 0.08 .. 0.7
    const t = Math.min(1, Math.max(0, (b.conf[i] - chance) / (1 - chance)));
    image.data.set([r, g, bl, Math.round(255 * (0.08 + 0.62 * t))], 4 * i);
  }
  sctx.putImageData(image, 0, 0);
  ctx.imageSmoothingEnabled = true;
  ctx.imageSmoothingQuality = "high";
  ctx.drawImage(small, 0, 0, canvas.width, canvas.height);
}

/** A value in about -1..1 as Playground colours it: orange below 0, white at 0, blue above. */
export function valueColour(v) {
  const t = Math.min(1, Math.abs(v));
  const [r, g, b] = v >= 0 ? hexToRgb("#0877bd") : hexToRgb("#f59322");
  return [255 + (r - 255) * t, 255 + (g - 255) * t, 255 + (b - 255) * t];
}

/** 2-D regression: the network's output over the plane, coloured by value. */
function drawSurface(ctx, canvas, b) {
  const n = b.n;
  const small = el("canvas", { width: n, height: n });
  const sctx = small.getContext("2d");
  const image = sctx.createImageData(n, n);
  for (let i = 0; i < n * n; i++) {
    const [r, g, bl] = valueColour(b.values[i]);
    image.data.set([r, g, bl, 200], 4 * i);
  }
  sctx.putImageData(image, 0, 0);
  ctx.imageSmoothingEnabled = true;
  ctx.drawImage(small, 0, 0, canvas.width, canvas.height);
}

/** Light lines at x = 0 and y = 0, when they are inside the picture. */
function drawAxes(ctx, canvas, map) {
  const [zx, zy] = map.toPx(0, 0);
  ctx.strokeStyle = "rgba(0, 0, 0, 0.12)";
  ctx.lineWidth = 1;
  ctx.beginPath();
  if (zx > 0 && zx < canvas.width) { ctx.moveTo(zx, 0); ctx.lineTo(zx, canvas.height); }
  if (zy > 0 && zy < canvas.height) { ctx.moveTo(0, zy); ctx.lineTo(canvas.width, zy); }
  ctx.stroke();
}

function drawPoints(ctx, map, points) {
  const radius = points.x.length > 600 ? 2.6 : 3.4;
  ctx.lineWidth = 1;
  ctx.strokeStyle = "#ffffff";
  points.x.forEach(([x, y], i) => {
    const [px, py] = map.toPx(x, y);
    ctx.beginPath();
    ctx.arc(px, py, radius, 0, 2 * Math.PI);
    ctx.fillStyle = points.task === "regression" ? `rgb(${valueColour(points.y[i]).join(",")})` : classColour(points.y[i]);
    ctx.fill();
    ctx.stroke();
  });
}

/** A marker (ring) at a point the user clicked. */
export function drawMarker(ctx, px, py, colour) {
  ctx.beginPath();
  ctx.arc(px, py, 7, 0, 2 * Math.PI);
  ctx.lineWidth = 3;
  ctx.strokeStyle = "#ffffff";
  ctx.stroke();
  ctx.lineWidth = 2;
  ctx.strokeStyle = colour;
  ctx.stroke();
}

/** The test points: rings in their class colour (training points are filled dots). */
function drawTestPoints(ctx, map, points) {
  ctx.lineWidth = 1.6;
  points.test_x.forEach(([x, y], i) => {
    const [px, py] = map.toPx(x, y);
    ctx.beginPath();
    ctx.arc(px, py, 3.2, 0, 2 * Math.PI);
    ctx.strokeStyle = points.task === "regression" ? `rgb(${valueColour(points.test_y[i]).join(",")})`
                                                   : classColour(points.test_y[i]);
    ctx.stroke();
  });
}
