// ournn studio: the page. It keeps one "setup" (dataset, layers, optimizer...) in the URL,
// checks the network with the server as it is edited, starts training and follows the job
// through server-sent events. The HTTP API is described in docs/studio.md.
//
// The modules, all plain ES modules without a build step:
//   studio.js   this file: the page's state, the panels' wiring, the live events
//   setup.js    defaults and validation of setups (from the URL, a checkpoint, the server)
//   network.js  the layer list editor
//   charts.js   SVG line charts;  pictures.js  canvas drawings (digits, points, boundary)
//   views.js    samples, confusion matrix, misclassified images, probability bars
//   drawpad.js  the drawing pad;  api.js  fetch wrapper;  dom.js  small helpers
"use strict";

import { api, ApiError, apiUrl } from "./api.js";
import { renderChart, smooth } from "./charts.js";
import { byTestId, debounce, downloadBlob, formatInt, formatNumber, formatPercent, formatShape } from "./dom.js";
import { DrawPad } from "./drawpad.js";
import { LayerEditor } from "./network.js";
import { drawMarker, drawPlane } from "./pictures.js";
import { SetupRules } from "./setup.js";
import { pictureCanvas, renderUnits } from "./units.js";
import { classLegend, renderBars, renderConfusion, renderMisclassified, renderSamples } from "./views.js";

// ================================================================== state

/** What the tests (and the curious, in the console) can read: kept up to date. */
const studio = {
  setup: null,                          // the setup shown on the page
  job: null,                            // the last job J of this session, or null
  steps: emptySteps(),                  // per-step training loss
  history: emptyHistory(),              // per-epoch metrics
};
window.ournnStudio = studio;

const state = {
  options: null,                        // GET /api/options
  rules: null,                          // SetupRules: defaults and validation of setups
  datasets: new Map(),                  // name -> D
  samples: new Map(),                   // name -> samples answer (or a pending Promise)
  check: null,                          // the last answer of /api/model/check
  checkSeq: 0,                          // to drop answers of superseded checks
  predictSeq: 0,
  locked: false,                        // a job is running: the setup is read-only
  // Which run the views (charts, metrics, badge, layer statistics, results) show: the
  // session's job when it trained the network on the page; none after a checkpoint is
  // loaded, and none between Start and the new job's first message.
  viewJobId: null,
  starting: false,                      // Start was pressed, the new job is not known yet
  startingFrom: null,                   // ... the id of the job before it
  loaded: null,                         // {file, key, epochs, optimizer}: a loaded checkpoint
  zooKey: null,                         // the layers the zoo selector's model gave
  urlHadSetup: false,
  firstSnapshot: true,
  plane: null,                          // the mapping of the boundary canvas (for clicks)
  editor: null,
  pad: null,
};

const ACTIVE = ["running", "paused", "stopping"];
const $ = byTestId;

function emptySteps() { return { step: [], loss: [], lr: [] }; }
function emptyHistory() {
  return { epoch: [], loss: [], accuracy: [], val_loss: [], val_accuracy: [], lr: [] };
}

// ================================================================== messages

/**
 * Show an error (an ApiError, an Error or a string) in the banner, which floats over the top
 * of the page (the layout does not move). Errors that belong to a panel (a save, a load, an
 * upload, a prediction) are shown in that panel instead, once.
 */
function showError(err, kind = "error") {
  const banner = $("error-banner");
  const text = typeof err === "string" ? err : err?.message || String(err);
  document.getElementById("error-text").textContent = text;
  banner.classList.toggle("warn", kind === "warn");
  banner.hidden = false;
}

function hideError() {
  $("error-banner").hidden = true;
}

/** Run an async action; any error goes to the banner instead of breaking the page. */
async function guarded(action) {
  try {
    return await action();
  } catch (err) {
    showError(err);
    return undefined;
  }
}

// ================================================================== setup

function datasetInfo(name) {
  return state.datasets.get(name) || null;
}

/** The setup of the URL (?setup=...), or the default one. */
function initialSetup() {
  const raw = new URLSearchParams(location.search).get("setup");
  if (!raw) return { setup: state.rules.defaultSetup(), warnings: [] };
  state.urlHadSetup = true;
  try {
    const parsed = JSON.parse(raw);
    const result = state.rules.sanitize(parsed);
    const name = parsed?.dataset;
    if (typeof name === "string" && name.startsWith("csv:") && !state.datasets.has(name)) {
      // The data of a CSV link lives in the browser that uploaded it: say how to get it, and
      // apply the link's set-up when that file arrives.
      state.pendingCsv = { dataset: name, setup: parsed };
      result.warnings = result.warnings.filter((w) => !w.startsWith("unknown dataset"));
      result.warnings.unshift(`this link trains on an uploaded CSV file (${name.slice(4)}.csv or similar), which ` +
        "this browser has not uploaded: upload the same file under Data → Upload a CSV file, and the link's " +
        "network and settings are applied to it. Until then they are shown on a built-in dataset");
      document.getElementById("csv-box").open = true;
    }
    return result;
  } catch (_) {
    return { setup: state.rules.defaultSetup(), warnings: ["the link's setup is not valid JSON; the default setup is used"] };
  }
}

function warnAbout(warnings, where) {
  if (warnings.length) showError(`Some of the ${where} was not used:\n• ${warnings.join("\n• ")}`, "warn");
}

/** Keep the URL in step with the setup, so that a link (or a reload) brings it back. */
function updateUrl() {
  const query = `?setup=${encodeURIComponent(JSON.stringify(studio.setup))}`;
  if (location.search !== query) history.replaceState(null, "", location.pathname + query + location.hash);
}

/** Show `setup` everywhere on the page. */
function applySetup(setup) {
  studio.setup = setup;
  $("dataset-select").value = setup.dataset;
  $("optimizer-select").value = setup.optimizer;
  $("schedule-select").value = setup.schedule;
  $("augment-select").value = setup.augment;
  const settings = { lr: "lr-input", batch_size: "batch-size-input", epochs: "epochs-input",
                     train_size: "train-size-input", weight_decay: "weight-decay-input", seed: null,
                     l1: "l1-input", l2: "l2-input" };
  for (const [key, testid] of Object.entries(settings)) {
    const input = testid ? $(testid) : document.getElementById("seed-input");
    input.value = setup[key] === null || setup[key] === undefined ? "" : String(setup[key]);
    input.classList.remove("bad");
  }
  state.editor.setLayers(setup.layers);
  showDataset();
  setupChanged();
}

/** Something in the setup changed: the URL follows, the network is checked again. */
function setupChanged({ recheck = true } = {}) {
  updateUrl();
  syncZooSelect();
  if (recheck) scheduleCheck();
  renderViews();
}

/** The dataset, input features and layers of a setup, in a form setups can be compared by. */
function networkKey(setup) {
  if (!setup) return "";
  const layers = (setup.layers || []).map((l) => Object.keys(l).sort().map((k) => [k, l[k]]));
  const features = setup.data?.features ?? (setup.dataset ? ["x1", "x2"] : null);
  return JSON.stringify([setup.dataset, features, layers]);
}

// ================================================================== data controls (toy sets)

function isToy(name) {
  return Boolean(state.options?.toys?.[name]);
}

/** The toy set's data controls, the set's own defaults filled in. */
function toyData(name, data) {
  return { noise: null, train_share: 2 / 3, seed: 1, features: ["x1", "x2"], ...(data || {}) };
}

function trainSizeOf(setup = studio.setup) {
  const info = datasetInfo(setup.dataset);
  if (setup.data) return Math.round((state.options.toy_points || 1500) * setup.data.train_share);
  return info ? info.train_size : null;
}

/** Show the noise, split, draw and feature controls of a toy set (hidden for other data). */
function showDataControls(info) {
  const box = document.getElementById("data-controls");
  const toy = isToy(info.name);
  box.hidden = !toy;
  if (!toy) return;
  const data = studio.setup.data;
  const noise = data.noise ?? state.options.toys[info.name].noise;
  $("noise-input").value = String(noise);
  document.getElementById("noise-value").textContent = Number(noise).toFixed(2);
  $("share-input").value = String(data.train_share);
  document.getElementById("share-value").textContent = `${Math.round(100 * data.train_share)}%`;
  for (const box of document.querySelectorAll("#features input")) {
    box.checked = data.features.includes(box.value);
  }
  updateDataLocks();
}

/** While a run goes on, noise and a new draw apply to it; split and features wait. */
function updateDataLocks() {
  const active = isActive(studio.job);
  $("share-input").disabled = active;
  for (const box of document.querySelectorAll("#features input")) box.disabled = active;
}

function fillFeatures() {
  const names = { "x1^2": "x1²", "x2^2": "x2²", "x1*x2": "x1·x2" };
  const set = document.getElementById("features");
  for (const f of state.options.features || []) {
    set.append(Object.assign(document.createElement("label"), { className: "check" }));
    const label = set.lastElementChild;
    const box = Object.assign(document.createElement("input"), { type: "checkbox", value: f });
    box.dataset.testid = `feature-${f}`;
    box.addEventListener("change", onFeature);
    label.append(box, ` ${names[f] || f}`);
  }
}

/** A data control changed: new points (and, for the split or features, a new check). */
function dataChanged({ live = false } = {}) {
  const setup = studio.setup;
  setup.train_size = trainSizeOf(setup);
  $("train-size-input").value = String(setup.train_size);
  showDataset();
  setupChanged();
  if (live && isActive(studio.job)) sendLiveData();
}

const sendLiveData = debounce(async () => {
  if (!isActive(studio.job) || !studio.setup.data) return;
  try {
    const answer = await api("api/train/settings", { json: { data: studio.setup.data } });
    if (answer.job) onStatus(answer.job);
    announce("New points: the run trains on them from its next step.");
  } catch (err) {
    showError(err);
  }
}, 300);

function onNoise(e) {
  studio.setup.data.noise = Number(e.target.value);
  dataChanged({ live: true });
}

function onShare(e) {
  studio.setup.data.train_share = Number(e.target.value);
  dataChanged();
}

function onRegenerate() {
  studio.setup.data.seed = (studio.setup.data.seed + 1) % 2147483646;
  dataChanged({ live: true });
}

function onFeature() {
  const chosen = [...document.querySelectorAll("#features input")].filter((b) => b.checked).map((b) => b.value);
  if (!chosen.length) {                       // at least one input
    showDataControls(datasetInfo(studio.setup.dataset));
    return;
  }
  studio.setup.data.features = chosen;
  dataChanged();
}

/**
 * The job whose results the views show, or null: the session's job while it runs; after it,
 * only while the page shows the network it trained (and no checkpoint was loaded since).
 */
function viewJob() {
  const job = studio.job;
  if (!job || state.starting) return null;
  if (isActive(job)) return job;
  if (state.viewJobId !== job.id) return null;
  return networkKey(job.setup) === networkKey(studio.setup) ? job : null;
}

/** Redraw everything that shows a run: the job line, the charts, the results. */
function renderViews() {
  if (!studio.setup || !state.editor) return;
  renderJob();
  scheduleCharts();
  renderResults();
}

/** The zoo selector names a zoo model only while the layers are that model's. */
function syncZooSelect() {
  if (state.zooKey !== null && state.zooKey !== networkKey({ layers: studio.setup.layers })) {
    state.zooKey = null;
  }
  if (state.zooKey === null) $("zoo-select").value = "";
}

// ================================================================== data panel

function fillDatasetSelect() {
  const select = $("dataset-select");
  const groups = { image: "Images", points: "2-D points", table: "Tables (CSV)", text: "Text" };
  const children = [];
  for (const [kind, title] of Object.entries(groups)) {
    const items = [...state.datasets.values()].filter((d) => d.kind === kind);
    if (!items.length) continue;
    const group = document.createElement("optgroup");
    group.label = title;
    for (const d of items) group.append(new Option(d.label || d.name, d.name));
    children.push(group);
  }
  select.replaceChildren(...children);
  if (studio.setup) select.value = studio.setup.dataset;
}

function addDataset(info) {
  state.datasets.set(info.name, info);
  state.samples.delete(info.name);
  fillDatasetSelect();
}

/** The dataset's description, samples, and everything that depends on its kind. */
function showDataset() {
  const info = datasetInfo(studio.setup.dataset);
  if (!info) return;
  const what = info.kind === "image" ? "images" : info.kind === "points" ? "points" : "rows";
  $("samples").dataset.dataset = info.name;
  const train = trainSizeOf(), test = studio.setup.data ? (state.options.toy_points || 1500) - train : info.test_size;
  document.getElementById("dataset-info").textContent = info.kind === "text"
    ? "Shakespeare's plays, character by character (4.5 million to train on, the last tenth held out); " +
      "Train size counts characters"
    : `${formatInt(train)} training and ${formatInt(test)} test ${what} · ` +
      `${info.task === "regression" ? "a value to predict (regression, MSE)" : `${info.classes.length} classes`} · ` +
      `input ${formatShape(info.input_shape)}`;
  const size = trainSizeOf();
  document.getElementById("train-size-of").textContent = size ? `(of ${formatInt(size)})` : "(characters)";
  $("train-size-input").max = size ?? "";
  showDataControls(info);
  loadSamples();
  renderResults();
  updateDrawAvailability();
  updateZoo();
}

/** The key of the points the page shows: a toy set's name and its data controls. */
function sampleKey(setup = studio.setup) {
  return setup.data ? `${setup.dataset}?${JSON.stringify(setup.data)}` : setup.dataset;
}

/** Fetch (once) and show the samples of a dataset (a toy set: made to its controls). */
async function loadSamples(name = sampleKey()) {
  if (!state.samples.has(name)) {
    renderSamples($("samples"), null);
    const data = studio.setup.data ? `&data=${encodeURIComponent(JSON.stringify(studio.setup.data))}` : "";
    const pending = api(`api/datasets/${encodeURIComponent(studio.setup.dataset)}/samples?n=24${data}`);
    state.samples.set(name, pending);
    try {
      state.samples.set(name, await pending);
    } catch (err) {
      state.samples.delete(name);
      if (sampleKey() === name) {
        $("samples").replaceChildren();
        showError(err);
      }
      return;
    }
  }
  const samples = state.samples.get(name);
  if (samples instanceof Promise) return;            // the first call will draw it
  if (sampleKey() !== name) return;                 // the user has moved on
  renderSamples($("samples"), samples, { test: $("show-test").checked });
  renderResults();
  if (samples.kind === "table") fillRowForm();
}

function samplesOf() {
  const s = state.samples.get(sampleKey());
  return s && !(s instanceof Promise) ? s : null;
}

/** The user picked another dataset: keep the layers, fit the output to its classes. */
function changeDataset(name) {
  const before = datasetInfo(studio.setup.dataset);
  const after = datasetInfo(name);
  if (!after) return;
  const setup = studio.setup;
  setup.dataset = name;
  if (after.kind === "text") {
    setup.layers = [];
  } else if (before?.kind === "text" || !setup.layers.length) {
    setup.layers = state.rules.defaultLayers(after);
  }
  const lastLinear = [...setup.layers].reverse().find((l) => l.type === "Linear");
  if (lastLinear) lastLinear.out_features = after.outputs ?? after.classes.length;
  // Keep a train size the user chose if it still fits; "everything" stays everything (text:
  // 200,000 characters, a few seconds an epoch).
  if (after.kind === "text") {
    setup.train_size = 200000;
  } else if (setup.train_size === null || setup.train_size === undefined ||
      (before && setup.train_size >= before.train_size) || setup.train_size > after.train_size) {
    setup.train_size = after.train_size;
  }
  if (isToy(name)) setup.data = toyData(name, null);
  else delete setup.data;
  if (setup.data) setup.train_size = trainSizeOf(setup);
  // Settings left at the proposal for one kind of data take the other kind's proposal.
  const was = state.rules.defaultTraining(before?.kind), now = state.rules.defaultTraining(after.kind);
  if (Object.keys(was).every((k) => setup[k] === was[k])) Object.assign(setup, now);
  state.zooKey = null;
  applySetup(setup);
}

async function uploadCsv() {
  const file = $("csv-file").files[0];
  const result = $("csv-result");
  result.className = "result";
  if (!file) {
    result.classList.add("error");
    result.textContent = "Choose a .csv file first.";
    return;
  }
  const label = $("csv-label").value.trim();
  const query = new URLSearchParams({ name: file.name });
  if (label) query.set("label", label);
  result.textContent = `Uploading ${file.name}…`;
  try {
    const answer = await api(`api/csv?${query}`, { body: await file.text(), type: "text/csv" });
    const info = answer.dataset;
    hideError();
    addDataset(info);
    result.classList.add("ok");
    result.textContent = `Loaded ${info.label || info.name}: ${formatInt(info.train_size)} training and ` +
      `${formatInt(info.test_size)} validation rows, ${info.input_shape[0]} features, ` +
      `${info.classes.length} classes (${info.classes.slice(0, 6).join(", ")}${info.classes.length > 6 ? ", …" : ""}).`;
    if (state.pendingCsv?.dataset === info.name) {      // the file a link was made with
      const { setup, warnings } = state.rules.sanitize(state.pendingCsv.setup);
      state.pendingCsv = null;
      hideError();
      warnAbout(warnings, "link's setup");
      applySetup(setup);
      result.textContent += " The link's network and settings now apply to it.";
    } else {
      changeDataset(info.name);
    }
  } catch (err) {
    result.classList.add("error");
    result.textContent = `Could not use ${file.name}: ${err.message}`;
  }
}

// ================================================================== network panel

const scheduleCheck = debounce(runCheck, 250);

/** Ask the server whether the layers fit together, and show its answer. */
async function runCheck() {
  const seq = ++state.checkSeq;
  const setup = studio.setup;
  if (!setup.layers.length && datasetInfo(setup.dataset)?.kind !== "text") {
    showCheck({ ok: false, rows: [], error: { index: -1, message: "The network has no layers: add one below." } });
    return;
  }
  try {
    const body = { dataset: setup.dataset, layers: setup.layers };
    if (setup.data) body.data = setup.data;
    const answer = await api("api/model/check", { json: body });
    if (seq === state.checkSeq) showCheck(answer);
  } catch (err) {
    if (seq !== state.checkSeq) return;
    showCheck(null, err);
  }
}

function showCheck(check, err) {
  state.check = check;
  state.checkFailed = Boolean(err);
  state.editor.showCheck(check);
  showLayerStats();
  const status = $("model-status");
  const graph = $("graph");
  status.className = "model-status";
  if (check && check.ok) {
    status.classList.add("ok");
    status.textContent = check.text_model
      ? `${formatInt(check.total_params)} parameters · a character LSTM over ${check.text_model.vocab_size} characters`
      : `${formatInt(check.total_params)} parameters · input ${formatShape(check.input_shape)} → output ${formatShape(check.output_shape)}`;
    graph.innerHTML = check.svg || "";
    numberGraph(graph);
    requestAnimationFrame(graphScrollCue);
  } else {
    status.classList.add("error");
    if (check) {
      const i = check.error?.index ?? -1;
      const type = studio.setup.layers[i]?.type;
      let message = check.error?.message ?? "the shapes do not fit";
      // The server starts its messages with the layer type ("Linear: Linear needs..."): say it once.
      if (type && message.startsWith(`${type}: `)) message = message.slice(type.length + 2);
      status.textContent = (i >= 0 ? `Layer ${i + 1}: ` : "") + message;
    } else {
      status.textContent = `Could not check the network: ${err?.message ?? "unknown error"}`;
    }
    graph.replaceChildren(Object.assign(document.createElement("p"),
      { className: "placeholder", textContent: "The graph appears when the layers fit together." }));
  }
  document.getElementById("use-default-net").hidden = Boolean(check && check.ok) || state.locked;
  updateButtons();
}

/**
 * The graph (drawn by ournn.viz.graph, as `ournn summary --graph`) numbers layers from 0;
 * the layer list starts at 1: number the graph's boxes as the list does.
 */
function numberGraph(graph) {
  for (const node of graph.querySelectorAll(".node")) {
    const line = [...node.querySelectorAll("tspan")].pop();
    const m = line && /^(\d+)(: .*)?$/.exec(line.textContent.trim());
    if (!m) continue;
    line.textContent = `${Number(m[1]) + 1}${m[2] || ""}`;
    const title = node.querySelector("title");
    if (title) title.textContent = title.textContent.replace(/ \/ \d+(: [^/]*)?$/, ` / ${line.textContent}`);
  }
}

/** A graph taller (or wider) than its box shows a fade and says it goes on. */
function graphScrollCue() {
  const graph = $("graph");
  const more = graph.scrollHeight > graph.clientHeight + 4 || graph.scrollWidth > graph.clientWidth + 4;
  const atEnd = graph.scrollTop + graph.clientHeight >= graph.scrollHeight - 4;
  document.getElementById("graph-wrap").classList.toggle("more", more && !atEnd);
  document.getElementById("graph-more").hidden = !more || atEnd;
}

async function loadZoo() {
  const name = $("zoo-select").value;
  if (!name) return;
  await guarded(async () => {
    const answer = await api(`api/zoo/${encodeURIComponent(name)}?dataset=${encodeURIComponent(studio.setup.dataset)}`);
    const warnings = [];
    const layers = (answer.layers || []).map((l, i) => state.rules.cleanLayer(l, i, warnings)).filter(Boolean);
    warnAbout(warnings, `zoo model "${name}"`);
    studio.setup.layers = layers;
    state.editor.setLayers(layers);
    state.zooKey = networkKey({ layers });
    setupChanged();
    announce(`The zoo network ${name} is on the page: ${layers.length} layers, not trained yet.`);
  });
}

function useDefaultNetwork() {
  studio.setup.layers = state.rules.defaultLayers(datasetInfo(studio.setup.dataset));
  state.editor.setLayers(studio.setup.layers);
  setupChanged();
}

// ================================================================== training panel

/** Read a training setting from its input; a bad value is marked and not used. */
function onSettingInput(key, input) {
  const parsed = state.rules.parseSetting(key, input.value, studio.setup.dataset, trainSizeOf());
  input.classList.toggle("bad", !parsed.ok);
  input.title = parsed.ok ? "" : parsed.message;
  input.setAttribute("aria-invalid", String(!parsed.ok));
  if (parsed.ok && studio.setup[key] !== parsed.value) {
    studio.setup[key] = parsed.value;
    setupChanged({ recheck: key === "batch_size" });   // the batch size bounds the memory
    if (LIVE.includes(key) && isActive(studio.job)) sendLiveSettings();
  }
  updateButtons();
}

/** What a running or paused job takes from the page: they apply from its next step. */
const LIVE = ["lr", "weight_decay", "l1", "l2"];
const sendLiveSettings = debounce(async () => {
  if (!isActive(studio.job)) return;
  const body = Object.fromEntries(LIVE.map((k) => [k, studio.setup[k] ?? 0]));
  if (studio.job.setup?.schedule && studio.job.setup.schedule !== "none") delete body.lr;
  try {
    const answer = await api("api/train/settings", { json: body });
    if (answer.job) onStatus(answer.job);
    announce("The new settings apply from the next step.");
  } catch (err) {
    showError(err);
  }
}, 300);

/** Play: train until paused (Pause and Play again resume it); after a run, go on from it
 * unless Reset was pressed. Step: one step of a paused run (starting one if need be). */
async function play() {
  const job = studio.job;
  if (isActive(job)) {
    await control(job.state === "paused" ? "resume" : "pause");
    return;
  }
  await startTraining(Boolean(continuable()), { until_paused: true });
}

async function stepOnce() {
  if (!isActive(studio.job)) {
    await startTraining(Boolean(continuable()), { until_paused: true, paused: true });
    if (!isActive(studio.job)) return;
  }
  if (studio.job.state !== "paused") await control("pause");
  await guarded(async () => {
    const answer = await api("api/train/step", { json: {} });
    if (answer.job) onStatus(answer.job);
  });
}

/** Reset: stop, clear the views, and let the next Start or Play begin from new weights. */
async function resetRun() {
  if (isActive(studio.job)) await control("stop");
  state.resetFrom = studio.job?.id ?? null;
  state.loaded = null;
  state.viewJobId = null;
  renderViews();
  announce("Reset: the next run starts from new random weights.");
}

/** The name of a setting's field, as its label shows it ("Learning rate"). */
function fieldName(input) {
  return input.closest("label")?.querySelector("span")?.firstChild?.textContent.trim() || input.id;
}

/**
 * Why Start cannot run now, in words (empty: it can): every field holding a value that was
 * not accepted, and the layer where the shapes stop fitting.
 */
function startProblems() {
  const problems = [];
  for (const input of document.querySelectorAll("#training-card input.bad")) {
    problems.push(`${fieldName(input)}: ${input.title || "not a valid value"}`);
  }
  document.querySelectorAll('[data-testid="layer-row"]').forEach((row, i) => {
    for (const input of row.querySelectorAll("input.bad")) {
      problems.push(`layer ${i + 1} ${input.dataset.label || input.getAttribute("aria-label")}: ${input.dataset.problem || "not a valid value"}`);
    }
  });
  const text = datasetInfo(studio.setup?.dataset)?.kind === "text";
  if (!studio.setup?.layers.length && !text) problems.push("the network has no layers");
  else if (state.check && !state.check.ok && !problems.length) {
    const i = state.check.error?.index ?? -1;
    problems.push((i >= 0 ? `layer ${i + 1}: ` : "") + (state.check.error?.message ?? "the shapes do not fit"));
  } else if (!state.check && state.checkFailed) {
    problems.push("the network could not be checked");
  }
  return problems;
}

/**
 * Start a run. `resume`: continue from the session's model (a loaded checkpoint or the last
 * run, when it is the network on the page) instead of new random weights.
 */
async function startTraining(resume = false, extra = {}) {
  // Until the new job's first message, the views show no run: never the last one's "done".
  state.starting = true;
  state.startingFrom = studio.job?.id ?? null;
  renderViews();
  try {
    const body = { ...studio.setup, until_paused: Boolean(extra.until_paused) };
    if (resume) body.continue = true;
    if (extra.paused) body.paused = true;
    const answer = await api("api/train", { json: body });
    hideError();
    // The event stream also announces the new job with a snapshot; use whichever comes first.
    if (answer.job && studio.job?.id !== answer.job.id) onSnapshot({ job: answer.job });
  } catch (err) {
    state.starting = false;
    renderViews();
    showError(err);
  }
}

/** What Start would continue from, or null: the loaded checkpoint or the last finished run,
 * when the page shows that network. */
function continuable() {
  if (state.locked || !studio.setup) return null;
  const key = networkKey(studio.setup);
  if (state.loaded) {
    return state.loaded.key === key ? { text: `the loaded file ${state.loaded.file}`, optimizer: state.loaded.optimizer } : null;
  }
  const job = studio.job;
  if (job && state.resetFrom === job.id) return null;
  if (job && ["done", "stopped"].includes(job.state) && networkKey(job.setup) === key) {
    return { text: `run ${job.run} (${job.epoch} epoch${job.epoch === 1 ? "" : "s"})`, optimizer: true };
  }
  return null;
}

async function control(action) {
  await guarded(async () => {
    const answer = await api(`api/train/${action}`, { json: {} });   // JSON: as every change
    if (answer.job) onStatus(answer.job);
  });
}

function isActive(job) {
  return Boolean(job && ACTIVE.includes(job.state));
}

/** While a job runs, its setup is shown read-only. */
function setLocked(locked) {
  state.locked = locked;
  const ids = ["dataset-select", "csv-file", "csv-label", "csv-upload", "add-layer-type", "add-layer", "optimizer-select", "batch-size-input",
               "epochs-input", "train-size-input", "schedule-select", "load-file"];
  for (const id of ids) $(id).disabled = locked;
  // the learning rate and the regularisation may change while a run goes on (from its next
  // step); a schedule owns the learning rate
  const scheduled = locked && studio.job?.setup?.schedule && studio.job.setup.schedule !== "none";
  $("lr-input").disabled = Boolean(scheduled);
  document.getElementById("seed-input").disabled = locked;
  document.getElementById("use-default-net").hidden = locked || Boolean(state.check?.ok);
  state.editor.setLocked(locked);
  updateDataLocks();
  updateZoo();
  updateButtons();
}

/** The zoo holds networks for 28x28 images only, and only images can be augmented. */
function updateZoo() {
  const image = datasetInfo(studio.setup?.dataset)?.kind === "image";
  $("zoo-select").disabled = $("zoo-load").disabled = state.locked || !image;
  $("zoo-select").title = image ? "Networks of the ournn model zoo" : "The zoo has networks for 28x28 images only";
  $("augment-select").disabled = state.locked || !image;
  if (!image && studio.setup && studio.setup.augment !== "none") {
    studio.setup.augment = "none";
    $("augment-select").value = "none";
    updateUrl();
  }
}

/**
 * Start is enabled only when everything on the page is valid, and says why not in words.
 * When the page shows a model that can go on training (a loaded checkpoint, the last run),
 * Start continues it and "Start over" is the explicit way to new random weights.
 */
function updateButtons() {
  const job = studio.job;
  const state_ = job ? job.state : "idle";
  const problems = studio.setup && state.editor ? startProblems() : [];
  const from = problems.length ? null : continuable();
  const start = $("start-btn");
  start.disabled = state.locked || state.starting || problems.length > 0;
  start.textContent = from ? "Continue training" : "Start";
  start.title = from ? `Train on from ${from.text}` : "Train the network on the page from new random weights";
  const over = $("start-over-btn");
  over.hidden = !from;
  over.disabled = start.disabled;
  const reason = $("start-reason");
  reason.className = "start-reason";
  if (problems.length && !state.locked) {
    reason.classList.add("error");
    reason.textContent = `Start is off until this is fixed: ${problems.join("; ")}.`;
  } else if (from) {
    reason.textContent = `Continue training goes on from ${from.text}` +
      (from.optimizer ? " with its optimizer state" : " (its file has no optimizer state: the optimizer starts afresh)") +
      "; Start over trains this network from new random weights.";
  } else {
    reason.textContent = "";
  }
  const active = state_ === "running" || state_ === "paused";
  $("play-btn").disabled = state.starting || (!active && (state.locked || problems.length > 0));
  $("play-btn").textContent = state_ === "running" ? "⏸ Pause" : active ? "▶ Resume" : "▶ Play";
  $("step-btn").disabled = state.starting || state_ === "running" || state_ === "stopping" ||
    (!active && (state.locked || problems.length > 0));
  $("reset-btn").disabled = state.starting;
  $("pause-btn").disabled = !(state_ === "running" || state_ === "paused");
  $("pause-btn").textContent = state_ === "paused" ? "Resume" : "Pause";
  $("stop-btn").disabled = !(state_ === "running" || state_ === "paused");
}

/** The state line, the progress bar, the speed and the last metrics, of the run shown. */
function renderJob() {
  const job = viewJob();
  const badge = $("job-state");
  const name = state.starting ? "starting" : job ? job.state : "idle";
  badge.textContent = name;
  badge.dataset.state = name;
  $("epoch-progress").textContent = job ? progressText(job) : "";
  document.getElementById("progress-fill").style.width = `${(100 * progressFraction(job)).toFixed(1)}%`;
  const sps = job?.samples_per_sec;
  $("samples-per-sec").textContent = Number.isFinite(sps) && sps > 0 ? String(Math.round(sps)) : "–";
  document.getElementById("job-metrics").textContent = job ? metricsText(studio.history) : "";
  const error = document.getElementById("job-error");
  error.hidden = !(job && job.error);
  error.textContent = job?.error ? `Training failed: ${job.error}` : "";
  const label = runLabel(job);
  $("run-label").textContent = label;
  for (const tag of document.querySelectorAll(".run-tag")) tag.textContent = job ? `run ${job.run}` : "no run";
  updateButtons();
  showLayerStats();
}

/** Which run the views show, in words, and why they are empty when they are. */
function runLabel(job) {
  if (state.starting) return "Starting a new run…";
  if (job) {
    const info = datasetInfo(job.setup?.dataset);
    let text = `Run ${job.run} · ${info?.label ?? job.setup?.dataset}`;
    if (job.source) text += ` · continues ${job.source.text}`;
    if (job.optimizer_note) text += ` (${job.optimizer_note})`;
    return text;
  }
  if (state.loaded && state.loaded.key === networkKey(studio.setup)) {
    const epochs = Number.isInteger(state.loaded.epochs) ? `, trained ${state.loaded.epochs} epochs` : "";
    return `Loaded ${state.loaded.file}${epochs}: no run in this page yet.`;
  }
  if (studio.job && state.resetFrom === studio.job.id) return "Reset: the next run starts from new random weights.";
  if (studio.job && studio.job.run) return `No run of the network shown (run ${studio.job.run} trained another network or dataset).`;
  return "No run yet.";
}

/** The job's live weight/gradient sizes on the layer rows, while the rows show its network. */
function showLayerStats() {
  const job = viewJob();
  state.editor.showStats(job ? job.layer_stats : null);
}

function progressText(job) {
  const done = job.epoch ?? 0, epochs = job.epochs ?? job.setup?.epochs ?? 0;
  if (job.setup?.until_paused) {
    const spe = job.steps_per_epoch;
    const step = spe && isActive(job) ? ` · step ${formatInt(Math.min(job.step ?? 0, spe))} / ${formatInt(spe)}` : "";
    return `epoch ${formatInt(done)}${step} · until paused`;
  }
  if (isActive(job) && done < epochs) {
    const spe = job.steps_per_epoch;
    const step = spe ? ` · step ${formatInt(Math.min(job.step ?? 0, spe))} / ${formatInt(spe)}` : "";
    return `epoch ${done + 1} / ${epochs}${step}`;
  }
  return `${done} / ${epochs} epochs`;
}

function progressFraction(job) {
  if (!job) return 0;
  if (job.setup?.until_paused) return job.steps_per_epoch ? (job.step ?? 0) / job.steps_per_epoch : 0;
  const epochs = job.epochs ?? job.setup?.epochs ?? 0, spe = job.steps_per_epoch;
  if (job.state === "done") return 1;
  if (epochs && spe && Number.isFinite(job.global_step)) return Math.min(1, job.global_step / (epochs * spe));
  return epochs ? Math.min(1, (job.epoch ?? 0) / epochs) : 0;
}

function metricsText(h) {
  const last = (key) => (h[key] && h[key].length ? h[key][h[key].length - 1] : null);
  if (!h.epoch.length) return "";
  const parts = [`after epoch ${last("epoch")}: loss ${formatNumber(last("loss"))}`];
  if (last("accuracy") !== null) parts.push(`accuracy ${formatPercent(last("accuracy"))}`);
  if (last("val_loss") !== null) parts.push(`val loss ${formatNumber(last("val_loss"))}`);
  if (last("val_accuracy") !== null) parts.push(`val accuracy ${formatPercent(last("val_accuracy"))}`);
  return parts.join(" · ");
}

// ================================================================== live events

function connectEvents() {
  const conn = document.getElementById("conn");
  const source = new EventSource(apiUrl("api/events"), { withCredentials: true });
  source.onopen = () => { conn.textContent = "live"; conn.className = "conn live"; };
  source.onerror = () => { conn.textContent = "reconnecting…"; conn.className = "conn down"; };
  const handlers = { snapshot: onSnapshot, batch: onBatch, epoch: onEpoch, boundary: onBoundary, units: onUnits,
                     confusion: onConfusion, status: onStatus, done: onDone };
  for (const [name, handler] of Object.entries(handlers)) {
    source.addEventListener(name, (e) => {
      try {
        handler(JSON.parse(e.data));
      } catch (err) {
        console.error(`studio: the "${name}" event could not be shown`, err);
      }
    });
  }
}

/** The whole state of the session's job: rebuild everything from it. */
function onSnapshot({ job }) {
  if (job && studio.job && job.id !== studio.job.id && (job.run ?? 0) < (studio.job.run ?? 0)) return;  // an older run
  if (job && state.starting && job.id !== state.startingFrom) state.starting = false;
  if (job && (job.id !== studio.job?.id || isActive(job))) state.viewJobId = job.id;
  if (job && isActive(job)) state.loaded = null;        // the session's model is this run's now
  studio.job = job || null;
  studio.steps = job?.steps ? { step: [...job.steps.step], loss: [...job.steps.loss], lr: [...(job.steps.lr || [])] } : emptySteps();
  studio.history = { ...emptyHistory(), ...(job?.history || {}) };
  if (job) {                 // one record, whether read as studio.history or studio.job.history
    job.steps = studio.steps;
    job.history = studio.history;
  }
  if (job && job.setup && (isActive(job) || (state.firstSnapshot && !state.urlHadSetup))) {
    // (not when the page already shows it: no new check of the network, no redrawing,
    // while the run starts)
    const { setup } = state.rules.sanitize(job.setup);
    if (JSON.stringify(setup) !== JSON.stringify(studio.setup)) applySetup(setup);
  }
  state.firstSnapshot = false;
  setLocked(isActive(job));
  renderViews();
  if (job) loadRuns();
}

function onBatch(ev) {
  const job = studio.job;
  if (!job) return;
  for (const key of ["global_step", "step", "samples_per_sec", "layer_stats"]) if (ev[key] !== undefined) job[key] = ev[key];
  // every step since the previous batch event; skip the ones the snapshot already had
  const steps = studio.steps;
  const last = steps.step.length ? steps.step[steps.step.length - 1] : -Infinity;
  const newSteps = ev.steps || [ev.global_step];
  const newLosses = ev.losses || [ev.loss];
  const newLrs = ev.lrs || [];
  newSteps.forEach((step, i) => {
    if (step > last && Number.isFinite(newLosses[i])) {
      steps.step.push(step);
      steps.loss.push(newLosses[i]);
      steps.lr.push(newLrs[i] ?? NaN);
    }
  });
  if (steps.step.length > 4000) thin(steps);
  renderJob();
  scheduleCharts();
  // a digit on the pad: its answer and the first layer's pictures follow the learning
  const now = performance.now();
  if (!state.pad.empty && state.pad.enabled && now - (state.livePredict || 0) > 2000) {
    state.livePredict = now;
    predict({ pixels: state.pad.pixels() }, { final: false });
  }
}

/** Keep every other point (the server does the same past 2,000 points). */
function thin(steps) {
  for (const key of ["step", "loss", "lr"]) {
    const kept = (steps[key] || []).filter((_, i) => i % 2 === 0);
    steps[key].splice(0, steps[key].length, ...kept);
  }
}

function onEpoch(ev) {
  const h = studio.history;
  if (h.epoch.length && ev.epoch <= h.epoch[h.epoch.length - 1]) return;   // already known
  for (const key of Object.keys(emptyHistory())) {
    if (!h[key]) h[key] = [];
    h[key].push(ev[key] ?? null);
  }
  if (studio.job) studio.job.epoch = ev.epoch;
  renderJob();
  scheduleCharts();
}

function onBoundary(b) {
  if (!studio.job) return;
  studio.job.boundary = b;
  scheduleResults();
}

function onUnits(u) {
  if (!studio.job) return;
  studio.job.units = u;
  scheduleResults();
}

let resultsPending = false;

/** Redraw the results at the next frame: boundary and unit maps come together. */
function scheduleResults() {
  if (resultsPending) return;
  resultsPending = true;
  requestAnimationFrame(() => {
    resultsPending = false;
    renderResults();
  });
}

function onConfusion(c) {
  if (!studio.job) return;
  studio.job.confusion = c;
  renderResults();
}

/** J without its history: merge it into the job we follow. */
function onStatus(j) {
  if (studio.job && studio.job.id !== j.id && (j.run ?? 0) < (studio.job.run ?? 0)) return;   // late news of an older run
  if (!studio.job || studio.job.id !== j.id) {
    onSnapshot({ job: { ...j, history: emptyHistory(), steps: emptySteps() } });
    return;
  }
  const { history, steps, boundary, confusion, ...fields } = j;
  Object.assign(studio.job, fields);
  if (boundary) studio.job.boundary = boundary;
  if (confusion) studio.job.confusion = confusion;
  setLocked(isActive(studio.job));
  renderJob();
  if (!isActive(studio.job)) announceEnd(studio.job);
}

/** Tell screen readers (the aria-live region) how a run ended. */
function announceEnd(job) {
  if (state.announcedEnd === job.id) return;
  state.announcedEnd = job.id;
  const acc = studio.history.val_accuracy?.[studio.history.val_accuracy.length - 1];
  announce(`Run ${job.run} ${job.state} after ${job.epoch} epochs` +
           (Number.isFinite(acc) ? `, validation accuracy ${formatPercent(acc)}.` : "."));
}

/** A message for screen readers: the page's aria-live region reads it out. */
function announce(text) {
  const region = document.getElementById("announce");
  if (region) region.textContent = text;
}

/**
 * The job is over: fetch its whole record (the tab may have missed events while it was
 * reconnecting), then show the end.
 */
async function onDone(j) {
  let job = null;
  try {
    job = (await api("api/job")).job;
  } catch (_) { /* the live data will do */ }
  if (studio.job && studio.job.id !== j.id) return;     // a newer job has started meanwhile
  if (job && job.id === j.id && !isActive(job)) {
    onSnapshot({ job });
  } else {
    onStatus(j);
    scheduleCharts();
    renderResults();
  }
  if (studio.job && studio.job.id === j.id) announceEnd(studio.job);
  loadRuns();
}

// ================================================================== charts

let chartsPending = false;
let chartsDrawn = 0;
// While a run trains, the charts are redrawn at most once a second (batch events come five
// times a second): an open page then costs the training little (benchmarks/studio.py).
const CHART_INTERVAL_MS = 1000;
const MAX_DRAWN_POINTS = 600;        // per series: about one per pixel column

/** Draw the charts soon: at the next frame, or a second after the last drawing while a run
 * trains; never while the tab is hidden (it draws when shown again). */
let chartsTimer = null;

function scheduleCharts() {
  const now = !isActive(studio.job);          // no run going on: draw at the next frame
  if (chartsPending && !now) return;
  clearTimeout(chartsTimer);
  chartsPending = true;
  const wait = now ? 0 : Math.max(0, chartsDrawn + CHART_INTERVAL_MS - performance.now());
  chartsTimer = setTimeout(() => requestAnimationFrame(() => {
    chartsPending = false;
    chartsDrawn = performance.now();
    renderCharts();
  }), wait);
}

/** Every k-th of the points (and the last), so that at most `max` are drawn. */
function thinned(points, max = MAX_DRAWN_POINTS) {
  if (points.length <= max) return points;
  const k = Math.ceil(points.length / max);
  const out = points.filter((_, i) => i % k === 0);
  if (out[out.length - 1] !== points[points.length - 1]) out.push(points[points.length - 1]);
  return out;
}

const COLOURS = { steps: "#8fb3e8", smooth: "#1b4f9c", train: "#2f6fd1", val: "#b45f06", other: "#7b3fa0", lr: "#2c7a4b" };

function renderCharts() {
  const job = viewJob();
  const h = job ? studio.history : emptyHistory(), steps = job ? studio.steps : emptySteps();
  const spe = job?.steps_per_epoch;
  // a run until paused has no last epoch: the axis follows it
  const epochs = job?.setup?.until_paused ? Math.max(1, (job.epoch ?? 0) + 1)
                                          : job?.epochs ?? job?.setup?.epochs ?? 1;
  const stepX = (s) => (spe ? s / spe : s);
  const byEpoch = (key) => h.epoch.map((e, i) => [e, h[key]?.[i] ?? NaN]);
  const dots = h.epoch.length <= 40;            // past that, dots would hide the lines
  const xDomain = spe ? [0, Math.max(epochs, stepX(steps.step[steps.step.length - 1] ?? 0))] : null;
  const a = Number($("smoothing").value);
  const smoothed = smooth(steps.loss, a);
  const other = comparedRun();
  const otherEpochs = (key) => other ? other.history.epoch.map((e, i) => [e, other.history[key]?.[i] ?? NaN]) : [];
  const otherSeries = (key) => (other ? [{ label: `run ${other.run} validation`, cls: "series-other", color: COLOURS.other,
                                            dots, dash: "2 3", points: otherEpochs(key) }] : []);
  if (other && xDomain) xDomain[1] = Math.max(xDomain[1], other.history.epoch[other.history.epoch.length - 1] ?? 0);
  renderChart($("loss-chart"), {
    title: "Loss", xLabel: spe || !job ? "epoch" : "step", xDomain, yDomain: [0, null], yLog: $("log-scale").checked,
    empty: job ? "waiting for the first steps…" : "Start training to see the loss",
    series: [
      { label: "per step", cls: "series-steps", color: COLOURS.steps, width: 1, opacity: a ? 0.45 : 0.9,
        points: thinned(steps.step.map((s, i) => [stepX(s), steps.loss[i]])) },
      ...(a ? [{ label: "smoothed", cls: "series-smooth", color: COLOURS.smooth, width: 1.6,
                 points: thinned(steps.step.map((s, i) => [stepX(s), smoothed[i]])) }] : []),
      { label: "epoch", cls: "series-train", color: COLOURS.train, dots, points: byEpoch("loss") },
      { label: "validation", cls: "series-val", color: COLOURS.val, dots, dash: "5 3", points: byEpoch("val_loss") },
      ...otherSeries("val_loss"),
    ],
  });
  renderChart($("lr-chart"), {
    title: "Learning rate", xLabel: "epoch", xDomain, yDomain: [0, null],
    empty: job ? "waiting for the first steps…" : "the learning rate of each step",
    series: [{ label: "per step", cls: "series-lr", color: COLOURS.lr, width: 1.6,
               points: thinned(steps.step.map((s, i) => [stepX(s), steps.lr?.[i] ?? NaN])) }],
  });
  renderChart($("acc-chart"), {
    title: "Accuracy", xLabel: "epoch", xDomain: [0, Math.max(epochs, h.epoch[h.epoch.length - 1] ?? 0)],
    yDomain: [null, 1], yFormat: (v) => `${Math.round(v * 100)}%`,
    empty: job ? "after the first epoch" : "Start training to see the accuracy",
    series: [
      { label: "train", cls: "series-train", color: COLOURS.train, dots, points: byEpoch("accuracy") },
      { label: "validation", cls: "series-val", color: COLOURS.val, dots, dash: "5 3", points: byEpoch("val_accuracy") },
      ...otherSeries("val_accuracy"),
    ],
  });
}

// ================================================================== runs

/** The run ticked for comparison (its summary), if it is not the run shown. */
function comparedRun() {
  const id = state.compareId;
  if (!id || id === viewJob()?.id) return null;
  return (state.runs || []).find((r) => r.id === id) || null;
}

async function loadRuns() {
  try {
    state.runs = (await api("api/runs")).runs;
  } catch (_) {
    return;
  }
  renderRuns();
  scheduleCharts();
}

/** The session's runs: settings and last figures; a tick compares one with the run shown. */
function renderRuns() {
  const box = $("runs");
  const runs = state.runs || [];
  if (!runs.length) {
    box.replaceChildren(Object.assign(document.createElement("p"), { className: "hint", textContent: "No run yet." }));
    return;
  }
  const table = document.createElement("table");
  table.className = "data runs-table";
  table.innerHTML = "<thead><tr><th>compare</th><th>run</th><th>data</th><th>settings</th><th>epochs</th><th>val acc</th><th>val loss</th></tr></thead>";
  const body = document.createElement("tbody");
  for (const r of [...runs].reverse()) {
    const row = document.createElement("tr");
    const tick = Object.assign(document.createElement("input"), { type: "checkbox", checked: state.compareId === r.id });
    tick.dataset.testid = "compare-run";
    tick.setAttribute("aria-label", `compare run ${r.run}`);
    tick.addEventListener("change", () => {
      state.compareId = tick.checked ? r.id : null;
      renderRuns();
      scheduleCharts();
    });
    const st = r.settings;
    const reg = [st.weight_decay ? `wd ${st.weight_decay}` : "", st.l1 ? `L1 ${st.l1}` : "", st.l2 ? `L2 ${st.l2}` : ""].filter(Boolean).join(" ");
    const cells = [`${r.run}${r.run === viewJob()?.run ? " (shown)" : ""}`, datasetInfo(st.dataset)?.label ?? st.dataset,
      `${st.optimizer} lr ${st.lr} · batch ${st.batch_size}${reg ? ` · ${reg}` : ""} · ${r.layers} layers${r.source ? ` · continues ${r.source}` : ""}`,
      `${r.last.epoch ?? 0}${st.until_paused ? "" : ` / ${st.epochs}`} (${r.state})`,
      formatPercent(r.last.val_accuracy), formatNumber(r.last.val_loss)];
    const first = document.createElement("td");
    first.append(Object.assign(document.createElement("label"), { className: "check tick" }));
    first.firstChild.append(tick);
    row.append(first, ...cells.map((c) => Object.assign(document.createElement("td"), { textContent: c })));
    row.dataset.testid = "run-row";
    body.append(row);
  }
  table.append(body);
  box.replaceChildren(Object.assign(document.createElement("div"), { className: "table-wrap" }));
  box.firstChild.append(table);
}

// ================================================================== results panel

/** The job's results if they belong to the dataset shown; the plane or the confusion matrix. */
function renderResults() {
  if (!studio.setup) return;
  const info = datasetInfo(studio.setup.dataset);
  const job = viewJob();
  const sameData = Boolean(job);
  const isPoints = info?.kind === "points";
  document.getElementById("results-points").hidden = !isPoints;
  document.getElementById("results-images").hidden = isPoints;
  if (isPoints) {
    const canvas = $("boundary");
    const samples = samplesOf();
    const points = samples && samples.kind === "points" ? samples : null;
    state.plane = drawPlane(canvas, sameData ? job.boundary : null, points, info.classes.length,
                            { test: $("show-test").checked });
    const wrap = canvas.parentElement;
    let legend = wrap.nextElementSibling;
    if (!legend || !legend.classList.contains("legend-inline")) legend = null;
    const fresh = classLegend(info.classes, sameData && job.boundary ? null : "train a model to see its boundary");
    if (legend) legend.replaceWith(fresh); else wrap.after(fresh);
    renderUnits($("units"), sameData ? job.units : null, info.classes.length ? info.classes : ["y"]);
    document.getElementById("boundary-hint").textContent = info.task === "regression"
      ? "The network's output over the plane: orange below 0, blue above; the dots are the values to predict. Click anywhere for the value there."
      : "Decision boundary: the colour is the predicted class, its strength the confidence. Click anywhere to classify that point.";
    showClicked();
  } else {
    const confusion = sameData ? job.confusion : null;
    renderConfusion($("confusion"), confusion);
    renderMisclassified($("misclassified"), confusion);
  }
}

// ================================================================== draw and predict

/**
 * Image datasets: draw and predict. 2-D points: the boundary is clicked instead, the bars stay.
 * Tables: nothing to draw, the card is hidden.
 */
function updateDrawAvailability() {
  const kind = datasetInfo(studio.setup.dataset)?.kind;
  state.pad.setEnabled(kind === "image");
  document.getElementById("draw-card").hidden = false;
  document.getElementById("predict-row").hidden = kind !== "table";
  document.getElementById("write").hidden = kind !== "text";
  document.querySelector("#draw-card .predict").hidden = kind === "text";
  document.getElementById("results-card").hidden = kind === "text";
  document.getElementById("graph-card").hidden = kind === "text";
  for (const id of ["layer-list", "zoo-load", "zoo-select", "add-layer", "add-layer-type"]) {
    document.getElementById(id).hidden = kind === "text";
  }
  $("text-model").hidden = kind !== "text";
  if (kind === "table") fillRowForm();
  arrangeResultsColumn(kind);
  document.getElementById("draw-pad").hidden = kind !== "image";
  document.getElementById("draw-title").textContent = kind === "image" ? "Draw" : kind === "text" ? "Write" : "Predict";
  if (kind === "table" && !$("predict-bars").childElementCount) {
    document.getElementById("predict-msg").textContent = "Type a row and press Predict.";
  }
  document.getElementById("draw-hint").textContent =
    studio.setup.dataset === "mnist" ? "Draw a digit with the mouse." : "Draw with the mouse.";
  const msg = document.getElementById("predict-msg");
  if (!$("predict-bars").childElementCount) {
    msg.className = "predict-msg";
    msg.textContent = kind === "image" ? "The network's answer appears here as you draw."
      : "Click a point of the decision boundary to see the network's answer there.";
  }
}

/** What to look at first: the drawing pad for images, the decision boundary for 2-D points. */
function arrangeResultsColumn(kind) {
  const column = document.getElementById("column-results");
  const order = kind === "points" ? ["results-card", "charts-card", "draw-card", "runs-card"]
                                  : ["draw-card", "charts-card", "results-card", "runs-card"];
  for (const id of order) column.append(document.getElementById(id));
}

/**
 * Ask the model for a prediction; the answer (or why there is none, e.g. no model yet) is
 * shown in the prediction panel, in a place that keeps its size: never a banner that moves
 * the page while one draws.
 */
async function predict(body, { final = true } = {}) {
  const seq = ++state.predictSeq;
  const msg = document.getElementById("predict-msg");
  try {
    const answer = await api("api/predict", { json: body });
    if (seq !== state.predictSeq) return null;
    msg.textContent = "";
    msg.className = "predict-msg";
    renderBars($("predict-bars"), $("predict-top"), answer);
    renderFirstLayer(answer.first_layer);
    if (final) {
      announce(answer.value !== undefined ? `Prediction: ${+answer.value.toPrecision(4)}.`
        : `Prediction: ${answer.classes[answer.prediction]}, ${formatPercent(answer.probabilities[answer.prediction])}.`);
    }
    return answer;
  } catch (err) {
    if (seq !== state.predictSeq) return null;
    renderBars($("predict-bars"), $("predict-top"), null);
    renderFirstLayer(null);
    msg.className = "predict-msg error";
    msg.textContent = err.status === 409 ? "No trained model yet: press Start (or load a checkpoint), then draw again."
                                         : err.message;
    return null;
  }
}

/** An image model's first layer: its filters, and its feature maps of the drawing. */
function renderFirstLayer(first) {
  const box = $("first-layer");
  box.hidden = !first;
  if (!first) return;
  const pictures = (list, grey, testid) => list.map((p) => {
    const c = pictureCanvas(p, { grey });
    c.dataset.testid = testid;
    return c;
  });
  document.getElementById("filters-title").textContent = first.kind === "conv"
    ? `What layer ${first.layer} looks for: its ${first.filters.length} filters`
    : `What layer ${first.layer} looks for: the weights of its first ${first.filters.length} units`;
  $("filters").replaceChildren(...pictures(first.filters, false, "filter-map"));
  document.getElementById("maps-title").hidden = !first.maps;
  $("feature-maps").replaceChildren(...(first.maps ? pictures(first.maps, true, "feature-map") : []));
}

function onDraw(pixels, final) {
  if (!pixels) return;
  predict({ pixels }, { final });
}

function clearDrawing() {
  state.pad.clear();
  state.predictSeq++;                // drop answers still on their way
  renderBars($("predict-bars"), $("predict-top"), null);
  renderFirstLayer(null);
  updateDrawAvailability();          // puts the hint back
}

/** The row form of a CSV dataset: one box per column, the first row's values to start. */
function fillRowForm() {
  const samples = samplesOf();
  const box = document.getElementById("row-fields");
  if (!samples || samples.kind !== "table") {
    box.replaceChildren();
    return;
  }
  if (box.dataset.dataset === sampleKey()) return;
  box.dataset.dataset = sampleKey();
  box.replaceChildren(...samples.columns.map((name, j) => {
    const label = document.createElement("label");
    label.className = "field";
    const input = Object.assign(document.createElement("input"), { type: "number", step: "any",
                                                                   value: String(samples.x[0]?.[j] ?? 0) });
    input.dataset.testid = "row-value";
    label.append(Object.assign(document.createElement("span"), { textContent: name }), input);
    return label;
  }));
}

async function predictRow(e) {
  e.preventDefault();
  const values = [...document.querySelectorAll('[data-testid="row-value"]')].map((i) => Number(i.value));
  const msg = document.getElementById("predict-msg");
  if (values.some((v) => !Number.isFinite(v))) {
    msg.className = "predict-msg error";
    msg.textContent = "Every column needs a number.";
    return;
  }
  await predict({ features: values });
}

/** Text from the character model after the prompt (while it trains, too). */
async function writeText(e) {
  e.preventDefault();
  const out = $("generated");
  out.classList.remove("error");
  try {
    const answer = await api("api/generate", { json: { prompt: $("prompt-input").value,
      length: Number($("gen-length").value), temperature: Number($("gen-temperature").value) } });
    out.textContent = answer.text;
  } catch (err) {
    out.classList.add("error");
    out.textContent = err.status === 409 ? "No trained model yet: press Start, then write." : err.message;
  }
}

/** A click on the decision boundary: classify that point. */
async function onBoundaryClick(e) {
  if (!state.plane) return;
  const canvas = $("boundary");
  const box = canvas.getBoundingClientRect();
  const px = (e.clientX - box.left) * (canvas.width / box.width);
  const py = (e.clientY - box.top) * (canvas.height / box.height);
  const [x, y] = state.plane.toData(px, py);
  const answer = await predict({ features: [x, y] });
  if (!answer) return;
  const what = answer.value !== undefined ? `value ${+answer.value.toPrecision(3)}`
    : `class ${answer.classes[answer.prediction]}, ${formatPercent(answer.probabilities[answer.prediction])}`;
  state.clicked = { x, y, text: `(${x.toFixed(2)}, ${y.toFixed(2)}): ${what}` };
  document.getElementById("predict-msg").textContent = `point (${x.toFixed(2)}, ${y.toFixed(2)})`;
  renderResults();          // the answer is drawn beside the point: the page does not move
}

/** The clicked point's marker and its answer, beside it on the boundary. */
function showClicked() {
  const bubble = $("boundary-answer");
  const c = state.clicked;
  if (!c || !state.plane || !viewJob()) {
    bubble.hidden = true;
    return;
  }
  const canvas = $("boundary");
  const [px, py] = state.plane.toPx(c.x, c.y);
  drawMarker(canvas.getContext("2d"), px, py, "#1f2328");
  const scale = canvas.clientWidth / canvas.width;
  bubble.textContent = c.text;
  bubble.hidden = false;
  const left = canvas.offsetLeft + px * scale, top = canvas.offsetTop + py * scale;
  const flip = px * scale > canvas.clientWidth * 0.6;          // keep it inside the picture
  bubble.style.left = `${Math.round(left + (flip ? -10 : 10))}px`;
  bubble.style.top = `${Math.round(top - 12)}px`;
  bubble.style.transform = flip ? "translateX(-100%)" : "none";
}

// ================================================================== save, load, export, link

function modelName() {
  return $("save-name").value.trim();
}

/**
 * Save the model of the network on the page: the server refuses (and says why) when the
 * session has no model of that network, and says which run, epoch and step the file holds.
 */
async function saveModel() {
  const result = $("save-result");
  const name = modelName();
  if (!name) {
    result.className = "result error";
    result.textContent = "Give the model a name first.";
    return;
  }
  try {
    const shown = { dataset: studio.setup.dataset, layers: studio.setup.layers };
    const answer = await api("api/model/save", { json: { name, setup: shown } });
    const link = document.createElement("a");
    link.dataset.testid = "download-link";
    link.href = apiUrl(answer.download);
    link.download = `${answer.name || name}.ckpt`;   // a taken name gets a suffix (-2, -3...)
    link.textContent = "download";
    const path = document.createElement("code");
    path.textContent = answer.path;
    // the same model for other runtimes: its weights for PyTorch, its graph for ONNX ones
    const stem = answer.name || name;
    const others = [["safetensors", "safetensors (PyTorch)"], ["onnx", "ONNX"]].map(([fmt, text]) => {
      const a = document.createElement("a");
      a.dataset.testid = `download-${fmt}`;
      a.href = apiUrl(`${answer.download}&format=${fmt}`);
      a.download = `${stem}.${fmt}`;
      a.textContent = text;
      return a;
    });
    result.className = "result ok";
    const what = answer.source?.text ? `Saved ${answer.source.text} to ` : "Saved to ";
    result.replaceChildren(what, path, " · ", link, " · ", others[0], " · ", others[1]);
    announce(`${what}${answer.name}.`);
  } catch (err) {
    result.className = "result error";
    result.textContent = `Not saved: ${err.message}`;
  }
}

async function loadCheckpoint() {
  const input = $("load-file");
  const file = input.files[0];
  if (!file) return;
  const result = $("load-result");
  result.className = "result";
  result.textContent = `Loading ${file.name}…`;
  try {
    const query = new URLSearchParams({ name: file.name });
    const answer = await api(`api/model/load?${query}`, { body: await file.arrayBuffer(), type: "application/octet-stream" });
    hideError();
    if (answer.dataset && typeof answer.dataset === "object" && answer.dataset.name) {
      if (!state.datasets.has(answer.dataset.name)) addDataset(answer.dataset);
    }
    const { setup, warnings } = state.rules.sanitize(answer.setup);
    warnAbout(warnings, "checkpoint's setup");
    // The views no longer show the last run: the session's model is this file's now.
    state.viewJobId = null;
    state.zooKey = null;
    state.loaded = { file: file.name, key: null, epochs: answer.epochs, optimizer: Boolean(answer.optimizer_state) };
    applySetup(setup);
    state.loaded.key = networkKey(studio.setup);
    renderViews();
    const label = datasetInfo(setup.dataset)?.label ?? setup.dataset;
    result.className = "result ok";
    const trained = Number.isInteger(answer.epochs) ? `, trained ${answer.epochs} epochs` : "";
    result.textContent = `Loaded ${file.name}: ${formatInt(answer.total_params ?? 0)} parameters, ${label}${trained}. ` +
      "It answers predictions; Continue training goes on from its weights, Start over from new ones.";
    announce(result.textContent);
  } catch (err) {
    result.className = "result error";
    result.textContent = `Could not load ${file.name}: ${err.message}`;
  } finally {
    input.value = "";                // choosing the same file again loads it again
  }
}

async function exportPython() {
  await guarded(async () => {
    const text = await api("api/export", { json: studio.setup, as: "text" });
    const stem = (modelName() || "ournn-model").replace(/[^\w.-]+/g, "_");
    downloadBlob(new Blob([text], { type: "text/x-python" }), `${stem}.py`);
  });
}

async function copyLink() {
  updateUrl();
  const button = $("copy-link");
  try {
    await navigator.clipboard.writeText(location.href);
  } catch (_) {
    // No clipboard permission: fall back to the old way through a selected text field.
    const area = Object.assign(document.createElement("textarea"), { value: location.href });
    document.body.append(area);
    area.select();
    document.execCommand("copy");
    area.remove();
  }
  button.textContent = "Link copied";
  setTimeout(() => { button.textContent = "Copy link"; }, 1500);
}

// ================================================================== start-up

function fillSelect(select, values, labels = values) {
  select.replaceChildren(...values.map((v, i) => new Option(labels[i], v)));
}

function wireControls() {
  document.getElementById("error-close").addEventListener("click", hideError);
  $("dataset-select").addEventListener("change", (e) => changeDataset(e.target.value));
  $("csv-upload").addEventListener("click", uploadCsv);
  $("zoo-load").addEventListener("click", loadZoo);
  $("add-layer").addEventListener("click", () => state.editor.add($("add-layer-type").value));
  document.getElementById("use-default-net").addEventListener("click", useDefaultNetwork);
  for (const key of ["optimizer", "schedule", "augment"]) {
    $(`${key}-select`).addEventListener("change", (e) => { studio.setup[key] = e.target.value; setupChanged({ recheck: false }); });
  }
  const settings = { lr: "lr-input", batch_size: "batch-size-input", epochs: "epochs-input", train_size: "train-size-input",
                     weight_decay: "weight-decay-input", l1: "l1-input", l2: "l2-input" };
  for (const [key, testid] of Object.entries(settings)) {
    $(testid).addEventListener("input", (e) => onSettingInput(key, e.target));
  }
  document.getElementById("seed-input").addEventListener("input", (e) => onSettingInput("seed", e.target));
  $("start-btn").addEventListener("click", () => startTraining(Boolean(continuable()) && !startProblems().length));
  $("start-over-btn").addEventListener("click", () => startTraining(false));
  $("play-btn").addEventListener("click", play);
  $("step-btn").addEventListener("click", stepOnce);
  $("reset-btn").addEventListener("click", resetRun);
  $("pause-btn").addEventListener("click", () => control(studio.job?.state === "paused" ? "resume" : "pause"));
  $("stop-btn").addEventListener("click", () => control("stop"));
  $("draw-clear").addEventListener("click", clearDrawing);
  $("predict-row").addEventListener("submit", predictRow);
  $("write").addEventListener("submit", writeText);
  $("noise-input").addEventListener("input", (e) => {
    document.getElementById("noise-value").textContent = Number(e.target.value).toFixed(2);
  });
  $("noise-input").addEventListener("change", onNoise);
  $("share-input").addEventListener("input", (e) => {
    document.getElementById("share-value").textContent = `${Math.round(100 * Number(e.target.value))}%`;
  });
  $("share-input").addEventListener("change", onShare);
  $("regenerate-btn").addEventListener("click", onRegenerate);
  $("show-test").addEventListener("change", () => { loadSamples(); renderResults(); });
  $("boundary").addEventListener("click", onBoundaryClick);
  $("save-btn").addEventListener("click", saveModel);
  $("load-file").addEventListener("change", loadCheckpoint);
  $("export-btn").addEventListener("click", exportPython);
  $("copy-link").addEventListener("click", copyLink);
  $("log-scale").addEventListener("change", scheduleCharts);
  $("graph").addEventListener("scroll", graphScrollCue);
  new ResizeObserver(graphScrollCue).observe($("graph"));
  $("smoothing").addEventListener("input", scheduleCharts);
  // Charts follow the width of their card.
  new ResizeObserver(() => scheduleCharts()).observe($("loss-chart"));
  document.addEventListener("visibilitychange", () => { if (!document.hidden) renderViews(); });
}

async function main() {
  window.addEventListener("unhandledrejection", (e) => showError(e.reason));
  state.pad = new DrawPad($("draw-canvas"), onDraw);
  wireControls();
  let options;
  try {
    options = await api("api/options");
  } catch (err) {
    showError(err);
    return;
  }
  state.options = options;
  for (const d of options.datasets || []) state.datasets.set(d.name, d);
  state.rules = new SetupRules(options, state.datasets);
  fillFeatures();
  fillDatasetSelect();
  fillSelect($("optimizer-select"), options.optimizers);
  fillSelect($("schedule-select"), options.schedules || ["none"]);
  fillSelect($("augment-select"), options.augments || ["none"]);
  fillSelect($("add-layer-type"), Object.keys(options.layers));
  fillSelect($("zoo-select"), ["", ...(options.zoo || [])], ["Choose a zoo network…", ...(options.zoo || [])]);
  state.editor = new LayerEditor($("layer-list"), options.layers,
                                 (kind) => (kind === "validity" ? updateButtons() : setupChanged({ recheck: true, kind })));
  const { setup, warnings } = initialSetup();
  warnAbout(warnings, "link's setup");
  applySetup(setup);
  renderJob();
  renderCharts();
  connectEvents();
  loadRuns();
}

main();
