// Small DOM and formatting helpers shared by the other modules.
"use strict";

/** The element with this data-testid (every part of the page the tests use has one). */
export function byTestId(id, root = document) {
  return root.querySelector(`[data-testid="${id}"]`);
}

/**
 * Create an element: el("button", {class: "btn", onclick: f, dataset: {x: 1}}, "text", child).
 * Attributes starting with "on" become event listeners; null/false attributes are skipped.
 */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      node.addEventListener(key.slice(2), value);
    } else if (key === "dataset") {
      Object.assign(node.dataset, value);
    } else if (key === "class") {
      node.className = value;
    } else if (key in node && typeof value !== "string") {
      node[key] = value;            // properties such as value, checked, disabled
    } else {
      node.setAttribute(key, value === true ? "" : String(value));
    }
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

/** 101770 -> "101,770" */
export function formatInt(n) {
  return Number(n).toLocaleString("en-US");
}

/** A loss or another small number, in 3-4 significant digits. */
export function formatNumber(x) {
  if (x === null || x === undefined || !Number.isFinite(x)) return "–";
  const a = Math.abs(x);
  if (a !== 0 && (a < 1e-3 || a >= 1e5)) return x.toExponential(2);
  return x.toPrecision(4);
}

/** 0.9312 -> "93.1%" */
export function formatPercent(x, digits = 1) {
  if (x === null || x === undefined || !Number.isFinite(x)) return "–";
  return `${(100 * x).toFixed(digits)}%`;
}

/** A shape without the batch dimension, written as Python prints a list: [16, 26, 26]. */
export function formatShape(shape) {
  return Array.isArray(shape) ? `[${shape.join(", ")}]` : "–";
}

/** fn, called at most once per `ms` after the last call (trailing). */
export function debounce(fn, ms) {
  let timer = null;
  const wrapped = (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
  wrapped.cancel = () => clearTimeout(timer);
  return wrapped;
}

/** Start a download of `blob` as `filename`. */
export function downloadBlob(blob, filename) {
  const url = URL.createObjectURL(blob);
  const a = el("a", { href: url, download: filename });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

/** Class colours: the two first are TensorFlow Playground's orange and blue. */
export const PALETTE = ["#f59322", "#0877bd", "#2ca02c", "#d62728", "#9467bd",
                        "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];

export function classColour(i) {
  return PALETTE[((i % PALETTE.length) + PALETTE.length) % PALETTE.length];
}

/** "#f59322" -> [245, 147, 34] */
export function hexToRgb(hex) {
  const v = parseInt(hex.slice(1), 16);
  return [(v >> 16) & 255, (v >> 8) & 255, v & 255];
}
