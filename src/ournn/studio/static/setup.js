// A "setup" is the whole state of the page (docs/studio.md):
//   {dataset, layers, optimizer, lr, batch_size, epochs, train_size, seed, weight_decay,
//    schedule, augment}
// This module knows the defaults and turns untrusted setups (from a link, a checkpoint or the
// server) into valid ones, gently: what is unknown or out of range is replaced and reported.
"use strict";

import { defaultLayer, parseParam } from "./network.js";

const SETTINGS = ["dataset", "layers", "optimizer", "lr", "batch_size", "epochs", "train_size", "seed",
                  "weight_decay", "schedule", "augment", "l1", "l2", "until_paused", "data"];
const NUMBERS = ["lr", "batch_size", "epochs", "train_size", "seed", "weight_decay", "l1", "l2"];

export class SetupRules {
  /**
   * options:  the answer of GET /api/options (layer types, optimizers, limits)
   * datasets: a Map name -> D, shared with the page (CSV uploads are added to it)
   */
  constructor(options, datasets) {
    this.options = options;
    this.datasets = datasets;
  }

  /** The network proposed for a dataset: a small MLP, with as many outputs as classes. */
  defaultLayers(info) {
    if (info && info.kind === "text") return [];         // the studio's character LSTM
    const layer = (type, extra = {}) => ({ ...defaultLayer(type, this.options.layers), ...extra });
    const classes = info ? info.outputs ?? info.classes.length : 10;
    if (info && info.kind === "points") {
      return [layer("Linear", { out_features: 16 }), layer("Tanh"),
              layer("Linear", { out_features: 16 }), layer("Tanh"),
              layer("Linear", { out_features: classes })];
    }
    if (info && info.kind === "table") {
      return [layer("Linear", { out_features: 64 }), layer("ReLU"), layer("Linear", { out_features: classes })];
    }
    return [layer("Flatten"), layer("Linear", { out_features: 128 }), layer("ReLU"),
            layer("Linear", { out_features: classes })];
  }

  /**
   * The training settings proposed for a kind of data. Images: Adam at 0.001, batches of
   * 64, 3 epochs. 2-D points: Adam at 0.01 in batches of 16 for 100 epochs, which bends the
   * boundary around moons, circles and XOR in a few seconds (3 epochs of the image settings
   * stopped at 83% with a nearly straight line).
   */
  defaultTraining(kind) {
    if (kind === "text") return { lr: 0.003, batch_size: 32, epochs: 10 };
    return kind === "points" ? { lr: 0.01, batch_size: 16, epochs: 100 }
                             : { lr: 0.001, batch_size: 64, epochs: 3 };
  }

  /** MNIST, the small MLP, Adam at 0.001, batches of 64, 3 epochs on all 60,000 images. */
  defaultSetup() {
    const name = this.datasets.has("mnist") ? "mnist" : [...this.datasets.keys()][0];
    const info = this.datasets.get(name);
    return { dataset: name, layers: this.defaultLayers(info), optimizer: "adam",
             ...this.defaultTraining(info?.kind), train_size: info ? info.train_size : 60000, seed: 0,
             weight_decay: 0, schedule: "none", augment: "none", l1: 0, l2: 0, until_paused: false };
  }

  /** Bounds of a training setting: [kind, min, max] (the kinds of parseParam). */
  settingBounds(key, datasetName, trainSize) {
    const limits = this.options.limits || {};
    const info = this.datasets.get(datasetName);
    return {
      lr: ["float", 1e-8, 10],
      batch_size: ["int", 1, limits.max_batch_size ?? 4096],
      epochs: ["int", 1, limits.max_epochs ?? 500],
      train_size: ["int?", 1, trainSize ?? (info ? info.train_size : 1e9)],     // empty = all
      seed: ["int", 0, 2 ** 31 - 1],
      weight_decay: ["float", 0, 1],
      l1: ["float", 0, 1],
      l2: ["float", 0, 1],
    }[key];
  }

  /** Read a training setting typed by the user: {ok, value} or {ok: false, message}. */
  parseSetting(key, raw, datasetName, trainSize) {
    const [type, min, max] = this.settingBounds(key, datasetName, trainSize);
    return parseParam(raw, { type, min, max });
  }

  /** A toy set's data controls from untrusted data, defaults for what is missing or wrong. */
  cleanData(raw, warnings) {
    const data = { noise: null, train_share: 2 / 3, seed: 1, features: ["x1", "x2"] };
    if (raw === undefined || raw === null) return data;
    if (typeof raw !== "object" || Array.isArray(raw)) {
      warnings.push("data must be an object; the default points are used");
      return data;
    }
    const number = (key, type, min, max) => {
      if (raw[key] === undefined || raw[key] === null) return;
      const parsed = parseParam(String(raw[key]), { type, min, max });
      if (parsed.ok) data[key] = parsed.value;
      else warnings.push(`data.${key}: ${parsed.message}; the default is used`);
    };
    number("noise", "float", 0, 2);
    number("train_share", "float", 0.1, 0.9);
    number("seed", "int", 0, 2 ** 31 - 2);
    const known = this.options.features || [];
    if (Array.isArray(raw.features) && raw.features.length &&
        raw.features.every((f) => known.includes(f)) && new Set(raw.features).size === raw.features.length) {
      data.features = [...raw.features];
    } else if (raw.features !== undefined) {
      warnings.push("data.features: unknown features; x1 and x2 are used");
    }
    return data;
  }

  /** A clean layer from untrusted data; problems are pushed to `warnings`. */
  cleanLayer(raw, index, warnings) {
    const types = this.options.layers;
    if (!raw || typeof raw !== "object" || !(raw.type in types)) {
      warnings.push(`layer ${index + 1}: unknown layer type ${JSON.stringify(raw?.type ?? raw)} ignored`);
      return null;
    }
    const layer = defaultLayer(raw.type, types);
    for (const [key, value] of Object.entries(raw)) {
      if (key === "type") continue;
      const meta = types[raw.type][key];
      if (!meta) {
        warnings.push(`layer ${index + 1} (${raw.type}): unknown parameter "${key}" ignored`);
      } else if (meta.type === "bool") {
        if (typeof value === "boolean") layer[key] = value;
        else warnings.push(`layer ${index + 1} (${raw.type}): ${key} must be true or false`);
      } else {
        const parsed = parseParam(value === null ? "" : String(value), meta);
        if (parsed.ok) layer[key] = parsed.value;
        else warnings.push(`layer ${index + 1} (${raw.type}): ${key} ${parsed.message}, default used`);
      }
    }
    return layer;
  }

  /**
   * A valid setup from untrusted data: {setup, warnings}. Never refused as a whole: each
   * unknown or out-of-range part is replaced by its default and reported in `warnings`.
   */
  sanitize(raw) {
    const warnings = [];
    const setup = this.defaultSetup();
    if (!raw || typeof raw !== "object" || Array.isArray(raw)) {
      return { setup, warnings: ["the setup is not an object; the default setup is used"] };
    }
    for (const key of Object.keys(raw)) {
      if (!SETTINGS.includes(key)) warnings.push(`unknown setting "${key}" ignored`);
    }
    if (raw.dataset !== undefined) {
      if (this.datasets.has(raw.dataset)) setup.dataset = raw.dataset;
      else warnings.push(`unknown dataset ${JSON.stringify(raw.dataset)}; ${this.datasets.get(setup.dataset)?.label ?? setup.dataset} is used`);
    }
    const info = this.datasets.get(setup.dataset);
    setup.layers = this.defaultLayers(info);
    setup.train_size = info ? info.train_size : null;
    const toy = this.options.toys?.[setup.dataset];
    if (toy) {
      setup.data = this.cleanData(raw.data, warnings);
      setup.train_size = Math.round((this.options.toy_points || 1500) * setup.data.train_share);
    } else if (raw.data !== undefined && raw.data !== null) {
      warnings.push("data controls apply to the 2-D toy sets only; ignored");
    }
    if (info && info.kind === "text") {
      setup.layers = [];
      if (setup.train_size === null) setup.train_size = 200000;
    } else if (Array.isArray(raw.layers)) {
      const layers = raw.layers.map((l, i) => this.cleanLayer(l, i, warnings)).filter(Boolean);
      if (layers.length) setup.layers = layers;
      else if (raw.layers.length) warnings.push("no usable layer; the default network is used");
    } else if (raw.layers !== undefined) {
      warnings.push("layers must be a list; the default network is used");
    }
    if (raw.optimizer !== undefined) {
      if (this.options.optimizers.includes(raw.optimizer)) setup.optimizer = raw.optimizer;
      else warnings.push(`unknown optimizer ${JSON.stringify(raw.optimizer)}; ${setup.optimizer} is used`);
    }
    for (const [key, allowed] of [["schedule", this.options.schedules], ["augment", this.options.augments]]) {
      if (raw[key] === undefined) continue;
      if ((allowed || ["none"]).includes(raw[key])) setup[key] = raw[key];
      else warnings.push(`unknown ${key} ${JSON.stringify(raw[key])}; ${setup[key]} is used`);
    }
    if (setup.augment !== "none" && info && info.kind !== "image") {
      warnings.push(`augmentation applies to images; none is used for ${info.label ?? info.name}`);
      setup.augment = "none";
    }
    if (typeof raw.until_paused === "boolean") setup.until_paused = raw.until_paused;
    for (const key of NUMBERS) {
      if (raw[key] === undefined) continue;
      const parsed = this.parseSetting(key, raw[key] === null ? "" : String(raw[key]), setup.dataset,
                                       setup.data ? setup.train_size : undefined);
      if (parsed.ok) setup[key] = parsed.value;
      else warnings.push(`${key}: ${parsed.message}; ${setup[key] ?? "all"} is used`);
    }
    return { setup, warnings };
  }
}
