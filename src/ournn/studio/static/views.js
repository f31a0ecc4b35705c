// Views that turn server data into DOM: sample thumbnails, the confusion matrix, the
// misclassified images and the probability bars. They only draw; studio.js decides when.
"use strict";

import { classColour, el, formatInt, formatPercent } from "./dom.js";
import { drawPlane, grayCanvas } from "./pictures.js";

/** The samples answer of /api/datasets/{name}/samples, drawn into the Data panel. */
export function renderSamples(container, samples, { test = false } = {}) {
  if (!samples) {
    container.replaceChildren(el("p", { class: "hint" }, "Loading samples…"));
    return;
  }
  if (samples.kind === "image") {
    container.replaceChildren(el("div", { class: "thumbs" },
      samples.images.map((pixels, i) => {
        const name = samples.classes[samples.labels[i]] ?? samples.labels[i];
        return el("div", { class: "thumb", title: name }, grayCanvas(pixels), el("span", {}, shortName(name)));
      })));
  } else if (samples.kind === "points") {
    const canvas = el("canvas", { class: "scatter", width: 440, height: 440 });
    drawPlane(canvas, null, samples, samples.classes.length, { test });
    const note = `${formatInt(samples.x.length)} training points` +
      (test && samples.test_x ? `, ${formatInt(samples.test_x.length)} test points (rings)` : "");
    container.replaceChildren(canvas, classLegend(samples.classes, note));
  } else if (samples.kind === "text") {
    container.replaceChildren(el("pre", { class: "text-sample" }, samples.text),
      el("p", { class: "hint" }, `${samples.characters} different characters`));
  } else {
    container.replaceChildren(renderTable(samples));
  }
}

/** "7 - seven" (MNIST's class names) -> "7"; other names unchanged. */
export function shortName(name) {
  const m = /^(\d+) - /.exec(String(name));
  return m ? m[1] : String(name);
}

/** Coloured dots with the class names, as used by the scatter plots. */
export function classLegend(classes, note) {
  if (!classes.length) {         // 2-D regression: values, not classes
    return el("div", { class: "legend-inline" },
      el("span", {}, el("span", { class: "swatch", style: "background:#f59322" }), "below 0"),
      el("span", {}, el("span", { class: "swatch", style: "background:#0877bd" }), "above 0 (the value to predict)"),
      note ? el("span", {}, note) : null);
  }
  return el("div", { class: "legend-inline" },
    classes.map((name, i) => el("span", {}, el("span", { class: "swatch", style: `background:${classColour(i)}` }), `class ${name}`)),
    note ? el("span", {}, note) : null);
}

/** The first rows of a table dataset (CSV upload). */
function renderTable(samples) {
  const width = samples.x[0]?.length ?? 0;
  // the file's own column names and values (the network sees them standardised)
  const names = samples.columns || Array.from({ length: width }, (_, j) => `x${j}`);
  const head = el("tr", {}, names.map((name) => el("th", { scope: "col" }, name)),
                  el("th", { scope: "col" }, samples.label || "label"));
  const rows = samples.x.map((row, i) =>
    el("tr", {}, row.map((v) => el("td", {}, String(+Number(v).toPrecision(6)))),
       el("td", {}, samples.classes[samples.y[i]] ?? samples.y[i])));
  return el("div", { class: "table-wrap" }, el("table", { class: "data" }, el("thead", {}, head), el("tbody", {}, rows)));
}

/**
 * The confusion matrix C = {matrix, classes} as a table: rows are the true classes, columns
 * the predictions; a cell's colour is its share of the row (blue on the diagonal, red off it).
 */
export function renderConfusion(container, confusion) {
  if (!confusion || !confusion.matrix) {
    container.replaceChildren(el("p", { class: "hint" }, "The confusion matrix appears after the first epoch."));
    return;
  }
  const classes = confusion.classes || confusion.matrix.map((_, i) => String(i));
  // Short names ("7" for MNIST's "7 - seven") head the columns; when some are long, the
  // columns show the class numbers and the rows say which number is which class.
  const numbered = classes.some((name) => shortName(name).length > 3);
  const head = el("tr", {}, el("th", {}, ""),
    classes.map((name, j) => el("th", { title: `predicted ${name}` }, numbered ? j : shortName(name))));
  const body = confusion.matrix.map((row, i) => {
    const total = row.reduce((a, b) => a + b, 0) || 1;
    const rowName = numbered ? `${classes[i]} (${i})` : shortName(classes[i]);
    return el("tr", {}, el("th", { title: `true ${classes[i]}`, class: "row-head" }, rowName),
      row.map((count, j) => confusionCell(count, count / total, i === j, classes[i], classes[j])));
  });
  const note = confusion.samples ? el("p", { class: "hint" }, `on the first ${formatInt(confusion.samples)} validation samples`) : null;
  container.replaceChildren(el("table", { class: "cm" }, el("thead", {}, head), el("tbody", {}, body)), note ?? "");
}

function confusionCell(count, share, diagonal, label, pred) {
  // At most 60% colour under dark text: every count stays readable (contrast 4.5:1 or more;
  // white text on the lighter blues was about 2.5:1), zeros in a quieter grey that still is.
  const alpha = 0.6 * (diagonal ? share : Math.min(1, share * 4));
  const rgb = diagonal ? "47, 111, 209" : "194, 54, 43";
  const style = `background: rgba(${rgb}, ${alpha.toFixed(3)}); color: ${count ? "#1f2328" : "#5b6472"}`;
  return el("td", { "data-testid": "confusion-cell", style, title: `true ${label}, predicted ${pred}: ${count}` }, count);
}

/** The misclassified validation samples: a thumbnail each with "label -> pred". */
export function renderMisclassified(container, confusion) {
  const items = confusion?.misclassified || [];
  if (!confusion) {
    container.replaceChildren(el("p", { class: "hint" }, "The validation images the network gets wrong appear here."));
    return;
  }
  if (items.length === 0) {
    container.replaceChildren(el("p", { class: "hint" }, "No misclassified samples."));
    return;
  }
  const classes = confusion.classes || [];
  container.replaceChildren(...items.map((m) => {
    const label = shortName(classes[m.label] ?? m.label), pred = shortName(classes[m.pred] ?? m.pred);
    return el("div", { class: "miss", title: `true ${label}, predicted ${pred}` },
      m.pixels ? grayCanvas(m.pixels) : null,
      el("span", { class: "tag" }, `${label}\u00a0-> `, el("b", {}, pred)));
  }));
}

/** The answer of /api/predict as one horizontal bar per class, the top class highlighted. */
export function renderBars(container, topEl, result) {
  if (!result) {
    container.replaceChildren();
    topEl.textContent = "–";
    return;
  }
  if (result.value !== undefined) {           // 2-D regression: one value
    container.replaceChildren();
    topEl.textContent = String(+result.value.toPrecision(4));
    return;
  }
  const { probabilities, classes, prediction } = result;
  container.replaceChildren(...probabilities.map((p, i) =>
    el("div", { class: `bar-row${i === prediction ? " top" : ""}`, "data-testid": "prob-bar",
                "data-class": String(i), "data-prob": String(p) },
      el("span", { class: "bar-label", title: classes[i] }, classes[i] ?? i),
      el("span", { class: "bar-track" }, el("span", { class: "bar-fill", style: `display:block;width:${(100 * p).toFixed(1)}%` })),
      el("span", { class: "bar-value" }, formatPercent(p)))));
  topEl.textContent = classes[prediction] ?? String(prediction);
}
