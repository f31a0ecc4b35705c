// The layer list editor: one row per layer with its type, its parameters, its output shape.
"use strict";

import { byTestId, el, formatInt, formatShape } from "./dom.js";

/** The colour family of a layer type, as in the graph (ournn.viz.graph.category). */
const CATEGORY = {
  Linear: "Layer", Conv2d: "Layer",
  ReLU: "Activation", LeakyReLU: "Activation", Sigmoid: "Activation", Tanh: "Activation", GELU: "Activation",
  MaxPool2d: "Pool", AvgPool2d: "Pool",
  BatchNorm: "Normalization", Dropout: "Dropout", Flatten: "Shape",
};

/** Short labels for parameter inputs (the data-testid keeps the full name). */
const PARAM_LABEL = {
  out_features: "units", out_channels: "channels", kernel_size: "kernel", stride: "stride",
  padding: "padding", bias: "bias", p: "p", negative_slope: "slope",
};

/** A layer of `type` with every parameter at its default value. */
export function defaultLayer(type, layerTypes) {
  const layer = { type };
  for (const [name, meta] of Object.entries(layerTypes[type] || {})) layer[name] = meta.default;
  return layer;
}

/**
 * Read a parameter input. Returns {ok: true, value} or {ok: false, message}.
 * meta = {"type": "int" | "int?" | "float" | "bool", "min", "max", "default"}
 */
export function parseParam(raw, meta) {
  const kind = String(meta.type || "float");
  if (kind === "bool") return { ok: true, value: Boolean(raw) };
  const nullable = kind.endsWith("?");
  const text = String(raw).trim();
  if (text === "") {
    return nullable ? { ok: true, value: null } : { ok: false, message: "a value is needed" };
  }
  const value = Number(text);
  if (!Number.isFinite(value)) return { ok: false, message: "not a number" };
  if (kind.startsWith("int") && !Number.isInteger(value)) return { ok: false, message: "a whole number is needed" };
  if (meta.min !== null && meta.min !== undefined && value < meta.min) return { ok: false, message: `at least ${meta.min}` };
  if (meta.max !== null && meta.max !== undefined && value > meta.max) return { ok: false, message: `at most ${meta.max}` };
  return { ok: true, value };
}

export class LayerEditor {
  /**
   * list:       the <ol data-testid="layer-list">
   * layerTypes: options.layers from the server ({type: {param: meta}})
   * onChange:   called after every edit with "structure" (rows added, moved, removed,
   *             retyped) or "value" (a parameter changed)
   */
  constructor(list, layerTypes, onChange) {
    this.list = list;
    this.layerTypes = layerTypes;
    this.onChange = onChange;
    this.layers = [];
    this.locked = false;
    // values typed but refused, kept across re-renders (adding a row must not quietly put
    // the old value back): layer -> {param: {raw, message}}
    this.refused = new WeakMap();
  }

  /** Show `layers` (the array is edited in place). */
  setLayers(layers) {
    this.layers = layers;
    this.render();
  }

  setLocked(locked) {
    this.locked = locked;
    for (const control of this.list.querySelectorAll("input, select, button")) {
      control.disabled = locked || control.dataset.alwaysDisabled === "1";
    }
  }

  render() {
    this.list.replaceChildren(...this.layers.map((layer, i) => this.renderRow(layer, i)));
    this.setLocked(this.locked);
  }

  renderRow(layer, index) {
    const typeSelect = el("select", { "data-testid": "layer-type", "aria-label": `Layer ${index + 1} type`,
                                      onchange: (e) => this.retype(index, e.target.value) },
      Object.keys(this.layerTypes).map((t) => el("option", { value: t, selected: t === layer.type }, t)));
    const params = Object.entries(this.layerTypes[layer.type] || {})
      .map(([name, meta]) => this.renderParam(layer, name, meta));
    const last = this.layers.length - 1;
    const button = (testid, text, title, action, off) =>
      el("button", { type: "button", class: "btn icon", "data-testid": testid, title, "aria-label": title,
                     dataset: { alwaysDisabled: off ? "1" : "0" }, onclick: action }, text);
    return el("li", { class: "layer-row", "data-testid": "layer-row", dataset: { category: CATEGORY[layer.type] || "" } },
      el("div", { class: "row-main" },
        el("span", { class: "row-index" }, index + 1),
        typeSelect,
        el("span", { class: "params" }, params),
        el("span", { class: "row-buttons" },
          button("layer-up", "↑", "Move up", () => this.move(index, -1), index === 0),
          button("layer-down", "↓", "Move down", () => this.move(index, +1), index === last),
          button("layer-remove", "✕", "Remove", () => this.remove(index), false))),
      el("div", { class: "row-info" },
        el("span", { class: "shape", "data-testid": "layer-shape", title: "output shape (without the batch)" }, "…"),
        el("span", { class: "row-params" }),
        el("span", { class: "row-title" }),
        el("span", { class: "row-stats", "data-testid": "layer-stats" })));
  }

  /** One parameter input: a checkbox for booleans, a number box for the rest. */
  renderParam(layer, name, meta) {
    const label = PARAM_LABEL[name] || name;
    const testid = `param-${name}`;
    if (meta.type === "bool") {
      return el("label", { class: "param", title: name }, label,
        el("input", { type: "checkbox", "data-testid": testid, checked: Boolean(layer[name]),
                      onchange: (e) => { layer[name] = e.target.checked; this.onChange("value"); } }));
    }
    const refused = this.refused.get(layer)?.[name];
    const input = el("input", {
      type: "number", "data-testid": testid, "aria-label": name, title: `${name} (${meta.min} to ${meta.max})`,
      step: String(meta.type).startsWith("int") ? "1" : "any", min: meta.min, max: meta.max,
      placeholder: meta.type === "int?" ? "auto" : null,
      value: refused ? refused.raw : layer[name] === null || layer[name] === undefined ? "" : String(layer[name]),
    });
    input.dataset.label = label;
    const mark = (problem) => {
      input.classList.toggle("bad", Boolean(problem));
      input.setAttribute("aria-invalid", String(Boolean(problem)));
      input.dataset.problem = problem || "";
      input.title = problem ? `${name}: ${problem}` : `${name} (${meta.min} to ${meta.max})`;
    };
    if (refused) mark(refused.message);
    input.addEventListener("input", () => {
      const parsed = parseParam(input.value, meta);
      mark(parsed.ok ? null : parsed.message);
      const kept = this.refused.get(layer) || {};
      if (parsed.ok) delete kept[name];
      else kept[name] = { raw: input.value, message: parsed.message };
      this.refused.set(layer, kept);
      if (parsed.ok && parsed.value !== layer[name]) {
        layer[name] = parsed.value;
        this.onChange("value");
      }
      this.onChange("validity");       // Start says what is wrong while a value is refused
    });
    return el("label", { class: "param" }, label, input);
  }

  retype(index, type) {
    this.layers[index] = defaultLayer(type, this.layerTypes);
    this.render();
    this.onChange("structure");
  }

  move(index, delta) {
    const to = index + delta;
    if (to < 0 || to >= this.layers.length) return;
    [this.layers[index], this.layers[to]] = [this.layers[to], this.layers[index]];
    this.render();
    this.onChange("structure");
  }

  remove(index) {
    this.layers.splice(index, 1);
    this.render();
    this.onChange("structure");
  }

  add(type) {
    this.layers.push(defaultLayer(type, this.layerTypes));
    this.render();
    this.onChange("structure");
  }

  /**
   * Show the live weight and gradient sizes of a training job on the rows (stats: one entry
   * per layer, null for layers without weights; null = clear). The bar grows with
   * log10(gradient rms) from 1e-6 to 1, so a layer whose gradients vanish is easy to spot.
   */
  showStats(stats) {
    const rows = [...this.list.querySelectorAll('[data-testid="layer-row"]')];
    rows.forEach((row, i) => {
      const cell = row.querySelector(".row-stats");
      const s = stats && stats.length === rows.length ? stats[i] : null;
      if (!s) {
        cell.replaceChildren();
        return;
      }
      const grad = s.grad_rms;
      const width = grad ? Math.max(2, Math.min(100, (Math.log10(grad) + 6) / 6 * 100)) : 0;
      cell.title = "root mean square of the weight (w) and of its gradient (∇) at the last step";
      cell.replaceChildren(
        `w ${formatSmall(s.weight_rms)} · ∇ ${grad === null ? "–" : formatSmall(grad)}`,
        el("span", { class: "grad-bar" }, el("span", { style: `width: ${width.toFixed(0)}%` })));
    });
  }

  /** True when some parameter input holds a value that was not accepted. */
  hasBadInput() {
    return this.list.querySelector("input.bad") !== null;
  }

  /**
   * Show the answer of /api/model/check on the rows: output shapes and parameter counts of
   * the rows that fit, the message on the row that does not. `check` null = unknown.
   */
  showCheck(check) {
    const rows = [...this.list.querySelectorAll('[data-testid="layer-row"]')];
    const fitted = new Map((check?.rows || []).map((r) => [r.index, r]));
    const failing = check && !check.ok && check.error ? check.error.index : -1;
    rows.forEach((row, i) => {
      const r = fitted.get(i);
      byTestId("layer-shape", row).textContent = r ? formatShape(r.shape) : (check ? "–" : "…");
      row.querySelector(".row-params").textContent = r && r.params ? `${formatInt(r.params)} params` : "";
      row.querySelector(".row-title").textContent = r && r.title && r.title !== r.type ? r.title.replace(/->/g, "→") : "";
      row.classList.toggle("invalid", i === failing);
      row.querySelector(".row-error")?.remove();
      if (i === failing) {
        row.append(el("div", { class: "row-error", "data-testid": "layer-error" }, check.error.message));
      }
    });
  }
}

/** 0.0512 -> "0.051", 0.000021 -> "2.1e-5". */
function formatSmall(x) {
  if (x === 0) return "0";
  return Math.abs(x) >= 0.01 && Math.abs(x) < 1000 ? x.toPrecision(2) : x.toExponential(1);
}
