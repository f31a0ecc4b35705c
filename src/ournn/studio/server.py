"""The studio's HTTP server: a Starlette app over the session, job and dataset objects.

Every handler validates its input and answers a 4xx with ``{"error", "field"}`` for anything
wrong (see docs/studio.md and docs/security.md); nothing a request sends reaches NumPy
unchecked. ``guard.Guard`` runs before every handler: it answers only for the studio's own host
names and refuses requests other sites send. Every endpoint that changes state insists on a
content type a cross-site form cannot send without a CORS preflight (``application/json``;
uploads ``text/csv`` or ``application/octet-stream``), and the studio never grants a preflight.
"""
import asyncio
import concurrent.futures
import json
import os
import re
import threading
import time
import unicodedata
import uuid
import zipfile

import numpy as np
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import (FileResponse, JSONResponse, Response, StreamingResponse)
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from .. import io as ournn_io
from .. import random as _random
from ..errors import OurnnError
from ..models import ALIASES as ZOO_ALIASES, canonical_name, get_model, list_models
from ..ops.activation import softmax_array
from .datasets import CSV_MAX_BYTES, TOY_NOISE, Registry, parse_csv
from .guard import Guard
from .jobs import Job, Session, first_layer_maps
from .text import TEXT_MODEL, TextJob
from .spec import (FEATURE_NAMES, LIMITS, SETUP_DEFAULTS, TOY_POINTS, TOY_SETS, SpecError,
                   build, check_data, check_layers, check_live_settings, check_setup,
                   export_script, layers_of, options)
from .spec import _number as spec_number
from .upload import UploadError, inspect_checkpoint, parse_json

STATIC = os.path.join(os.path.dirname(__file__), "static")
COOKIE = "ournn_session"
JSON_MAX_BYTES = 1024 * 1024
JSON_MAX_DEPTH = 32
CKPT_MAX_BYTES = 512 * 1024 * 1024
CKPT_MAX_UNPACKED = 512 * 1024 * 1024       # what an uploaded archive may declare unpacked
MAX_JOBS = 2                     # training jobs running at once on the server
MAX_SESSIONS = 200               # full: empty sessions are forgotten, else new ones get a 503
MAX_STREAMS = 64                 # event streams open at once
MAX_NAME_TRIES = 100             # "name-2" ... "name-100", then a few random suffixes
MAX_CSV_PER_SESSION = 8
UPLOADS_MAX_BYTES = 1024 ** 3    # the arrays of all uploaded CSV files, all sessions together
NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")       # fullmatch
SESSION_ID_RE = re.compile(r"[0-9a-f]{32}")
UPLOAD_NAME_MAX = 100
FLOAT32_MAX = float(np.finfo(np.float32).max)
ZOO_FOR_IMAGES = ("mlp", "lenet5", "cnn", "strided_cnn", "kerascnn")


class HTTPError(Exception):
    def __init__(self, status, message, field=None):
        super().__init__(message)
        self.status, self.message, self.field = status, message, field


class Studio:
    """The state behind the app: sessions, datasets, the folder for runs and models."""

    def __init__(self, workdir="studio-runs", data_dir=None):
        self.workdir = os.path.abspath(workdir)
        os.makedirs(self.workdir, exist_ok=True)
        self.registry = Registry(data_dir)
        self.sessions = {}
        self.lock = threading.Lock()          # the sessions
        self.save_lock = threading.Lock()     # choosing a free model name (bounded work only)
        self.owners = {}                      # saved model name -> id of the session that saved it
        self.streams = 0                      # event streams open
        self.closing = False
        ournn_io.remove_partial_writes(self.workdir)     # what a killed studio left

    # ----- sessions -----
    def session(self, request):
        """The request's session and whether it is new (then the cookie must be set).

        Sessions are bounded (``MAX_SESSIONS``) without losing anyone's work: when full, the
        least recently used *empty* session (no job, model, upload or save) is forgotten; when
        every session holds work, a new one is refused with a 503."""
        sid = request.cookies.get(COOKIE)
        with self.lock:
            if isinstance(sid, str) and sid in self.sessions:
                s = self.sessions[sid]
                s.touched = time.time()
                s.requests += 1            # a session with a request in flight is not empty
                return s, False
            kept = self._kept_uploads(sid)
            if kept:                       # a session from before a restart, with its CSVs
                if len(self.sessions) >= MAX_SESSIONS:
                    self._forget_empty_session()
                s = Session(sid)
                s.requests += 1
                self.sessions[sid] = s
                self._restore_uploads(s, kept)
                return s, False
            if len(self.sessions) >= MAX_SESSIONS:
                self._forget_empty_session()
            s = Session(uuid.uuid4().hex)
            s.requests += 1
            self.sessions[s.id] = s
            return s, True

    # ----- uploads kept on disk (a restarted studio gives each session its CSV files back)
    def _uploads_folder(self, sid):
        return os.path.join(self.workdir, "csv", sid)

    def _kept_uploads(self, sid):
        """The CSV files kept for session ``sid`` (a cookie's value: only a session id's
        form, 32 hex digits, ever becomes a path), oldest first."""
        if not isinstance(sid, str) or not SESSION_ID_RE.fullmatch(sid):
            return []
        folder = self._uploads_folder(sid)
        try:
            names = [n for n in os.listdir(folder) if n.endswith(".json")]
        except OSError:
            return []
        return sorted((os.path.join(folder, n) for n in names), key=os.path.getmtime)

    def keep_upload(self, session, ds, raw, name, label):
        folder = self._uploads_folder(session.id)
        os.makedirs(folder, exist_ok=True)
        stem = os.path.join(folder, ds.file_stem)
        ournn_io.atomic_write_bytes(stem + ".csv", raw)
        ournn_io.atomic_write_text(stem + ".json", json.dumps({"name": name, "label": label}))

    def forget_upload(self, session, ds):
        stem = os.path.join(self._uploads_folder(session.id), ds.file_stem)
        for path in (stem + ".json", stem + ".csv"):
            try:
                os.unlink(path)
            except OSError:
                pass

    def _restore_uploads(self, session, kept):
        for path in kept[-MAX_CSV_PER_SESSION:]:
            try:
                with open(path, encoding="utf-8") as f:
                    meta = json.load(f)
                with open(path[:-5] + ".csv", "rb") as f:
                    raw = f.read(CSV_MAX_BYTES + 1)
                ds = parse_csv(raw, meta["name"], meta.get("label"))
            except (OSError, ValueError, KeyError, TypeError, SpecError):
                continue                   # a file damaged since: the user uploads it again
            session.datasets[ds.name] = ds

    def _forget_empty_session(self):
        empty = [s for s in self.sessions.values() if s.empty]
        if not empty:
            raise HTTPError(503, f"the studio holds {len(self.sessions)} sessions with work in "
                                 "them and takes no new ones; try again later", "session")
        del self.sessions[min(empty, key=lambda s: s.touched).id]

    def running_jobs(self):
        return [s.job for s in list(self.sessions.values()) if s.job and s.job.active]

    def dataset(self, session, name, field="dataset", data=None):
        """The dataset ``name`` of this session; ``data``: a toy set's controls (checked),
        which make it anew (noise, split, seed, features)."""
        if data is not None:
            return self.registry.toy(name, data)
        ds = session.datasets.get(name) if isinstance(name, str) else None
        if ds is None and isinstance(name, str):
            try:
                ds = self.registry.get(name)
            except OurnnError as e:
                raise HTTPError(503, f"dataset {name!r} could not be loaded on the server: {e}",
                                field) from None
        if ds is None:
            known = list(Registry.NAMES) + list(session.datasets)
            raise HTTPError(404, f"unknown dataset {_short(name)}; known: {', '.join(known)}",
                            field)
        return ds

    def info(self, session, name, field="dataset", data=None):
        """What the page shows of a dataset, without loading a built-in one."""
        if data is not None:
            return self.registry.toy(name, check_data(data, name)).info()
        if isinstance(name, str) and name in session.datasets:
            return session.datasets[name].info()
        if name in Registry.NAMES:
            return self.registry.describe(name)
        return self.dataset(session, name, field).info()      # raises the 404

    def infos(self, session):
        """Every dataset this session can use, by name: built-in ones, then its uploads."""
        return {n: self.info(session, n) for n in (*Registry.NAMES, *session.datasets)}

    def begin_shutdown(self):
        """End the event streams, refuse new jobs, ask every job to stop after its step.
        Returns the jobs that were running."""
        self.closing = True
        jobs = self.running_jobs()
        for job in jobs:
            job.stop()
        return jobs

    def shutdown(self, timeout=60):
        """Stop every job (each saves a complete last.ckpt) and wait for them."""
        for job in self.begin_shutdown():
            job.join(timeout)


# ---------------------------------------------------------------- request helpers
async def _body(request, limit, types):
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype not in types:
        raise HTTPError(415, f"send the body as {' or '.join(types)}, not "
                             f"{ctype or 'no content type'}")
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise HTTPError(413, f"the body is larger than {limit // 1024 ** 2} MB")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPError(413, f"the body is larger than {limit // 1024 ** 2} MB")
        chunks.append(chunk)
    return b"".join(chunks)


async def _json(request, empty_ok=False):
    """The body as a JSON object: plain finite numbers only, nested at most JSON_MAX_DEPTH
    deep. ``empty_ok``: an empty body is ``{}`` (the content type is still required)."""
    raw = await _body(request, JSON_MAX_BYTES, ("application/json",))
    if empty_ok and not raw.strip():
        return {}
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise HTTPError(400, f"the body is not valid JSON: {e}") from None
    try:
        data = parse_json(text, JSON_MAX_DEPTH, finite=False)   # fields check numbers
    except UploadError as e:
        raise HTTPError(e.status, e.message) from None
    if not isinstance(data, dict):
        raise HTTPError(400, "the body must be a JSON object")
    return data


def _name(value, field="name"):
    if not isinstance(value, str) or not NAME_RE.fullmatch(value):
        raise HTTPError(400, f"{field} must be 1-64 letters, digits, '_', '-' or '.', "
                             f"not starting with '.' or '-' (got {_short(value)})", field)
    return value


def _short(value, limit=80):
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def _text_param(value, field, limit=UPLOAD_NAME_MAX, path=False):
    """A name a person typed or a browser sent (a file name, a column name): printable text
    only, no line breaks or other control characters, at most ``limit`` characters; with
    ``path``, no folder separators and not '.' or '..'."""
    if not isinstance(value, str) or not value.strip():
        raise HTTPError(400, f"{field} must not be empty", field)
    if len(value) > limit:
        raise HTTPError(400, f"{field} is longer than {limit} characters", field)
    bad = [c for c in value if unicodedata.category(c)[0] in "CZ" and c != " "]
    if bad:
        raise HTTPError(400, f"{field} must not contain control or separator characters "
                             f"(found {bad[0]!r})", field)
    if path and ("/" in value or "\\" in value or value.strip() in (".", "..")):
        raise HTTPError(400, f"{field} must be a file name, not a path (got {_short(value)})",
                        field)
    return value


def endpoint(handler):
    """Wrap ``handler(request, studio, session)``: errors become JSON 4xx, new sessions get
    their cookie."""
    async def wrapped(request):
        studio = request.app.state.studio
        session = None
        try:
            session, new = studio.session(request)
            response = await handler(request, studio, session)
        except HTTPError as e:
            response, new = JSONResponse({"error": e.message, "field": e.field}, e.status), False
        except SpecError as e:
            response, new = JSONResponse({"error": str(e), "field": e.field}, 400), False
        except UploadError as e:
            response, new = JSONResponse({"error": e.message, "field": "file"}, e.status), False
        finally:
            if session is not None:
                with studio.lock:
                    session.requests -= 1
        if new:
            response.set_cookie(COOKIE, session.id, httponly=True, samesite="strict")
        return response
    return wrapped


# ---------------------------------------------------------------- handlers
@endpoint
async def page(request, studio, session):
    return FileResponse(os.path.join(STATIC, "index.html"),
                        headers={"Cache-Control": "no-cache"})


@endpoint
async def get_options(request, studio, session):
    out = options()
    out["datasets"] = list(studio.infos(session).values())
    out["zoo"] = [m for m in ZOO_FOR_IMAGES if m in list_models()]
    out["toys"] = {name: {"noise": TOY_NOISE[name]} for name in TOY_SETS}
    out["features"] = list(FEATURE_NAMES)
    out["toy_points"] = TOY_POINTS
    return JSONResponse(out)


@endpoint
async def samples(request, studio, session):
    name = request.path_params["name"]
    data = request.query_params.get("data")
    if data is not None:
        try:
            data = check_data(parse_json(data[:4096], 4), name)
        except UploadError as e:
            raise HTTPError(400, f"data: {e.message}", "data") from None
    ds = studio.dataset(session, name, data=data)
    try:
        n = int(request.query_params.get("n", 24))
    except ValueError:
        raise HTTPError(400, "n must be a whole number", "n") from None
    return JSONResponse(ds.samples(n))


@endpoint
async def model_check(request, studio, session):
    data = await _json(request)
    info = studio.info(session, data.get("dataset"),          # shapes only: no images read
                       data=data.get("data"))
    if info["kind"] == "text":          # no layers to check: the studio's character LSTM
        ds = await asyncio.to_thread(studio.dataset, session, info["name"])
        model = _text_model(ds)
        return JSONResponse({"ok": True, "rows": [], "text_model": {"model": "charlstm",
                             **TEXT_MODEL, "vocab_size": len(ds.classes)},
                             "total_params": int(sum(p.numpy().size
                                                     for p in model.parameters())),
                             "input_shape": [], "output_shape": [len(ds.classes)], "svg": ""})
    layers = check_layers(data.get("layers"))
    model, rows, error = await asyncio.to_thread(build, layers, info["input_shape"],
                                                 info["outputs"], 1,
                                                 info["task"] == "regression")
    if error:
        return JSONResponse({"ok": False, "rows": rows, "error": error})
    svg = await asyncio.to_thread(_graph_svg, model, info["input_shape"])
    return JSONResponse({"ok": True, "rows": rows, "total_params": sum(r["params"] for r in rows),
                         "input_shape": info["input_shape"], "output_shape": rows[-1]["shape"],
                         "svg": svg})


def _graph_svg(model, input_shape):
    from ..viz.graph import model_svg
    return model_svg(model, input_shape, show_ops=False)


@endpoint
async def zoo(request, studio, session):
    name = canonical_name(request.path_params["name"])     # old names still answer
    if name not in ZOO_FOR_IMAGES:
        raise HTTPError(404, f"unknown zoo model {_short(name)}; choose one of "
                             f"{', '.join(ZOO_FOR_IMAGES)}", "name")
    info = studio.info(session, request.query_params.get("dataset", "mnist"))
    if info["kind"] != "image":
        raise HTTPError(400, f"zoo model {name} takes 28x28 images; {info['label']} is not an "
                             "image dataset", "dataset")
    model = get_model(name, num_classes=len(info["classes"]))
    return JSONResponse({"layers": layers_of(model)})


@endpoint
async def train(request, studio, session):
    data = await _json(request)
    resume = data.pop("continue", False)
    paused = data.pop("paused", False)
    for key, value in (("continue", resume), ("paused", paused)):
        if not isinstance(value, bool):
            raise HTTPError(400, f"{key} must be true or false", key)
    setup = check_setup(data, studio.infos(session))
    ds = await asyncio.to_thread(studio.dataset, session, setup["dataset"], "dataset",
                                 setup.get("data"))
    # no await from here on: two requests of one session cannot both pass the checks
    if session.job and session.job.active:
        raise HTTPError(409, "a training job is already running in this session: stop it "
                             "first")
    if studio.closing:
        raise HTTPError(503, "the studio is shutting down")
    if len(studio.running_jobs()) >= MAX_JOBS:
        raise HTTPError(503, f"the server is already running {MAX_JOBS} training jobs; try "
                             "again when one ends")
    _random.manual_seed(setup["seed"])           # the same setup gives the same initial weights
    if ds.kind == "text":                        # the studio's character LSTM
        model, rows, error = _text_model(ds), [], None
    else:
        model, rows, error = build(setup["layers"], ds.input_shape, ds.outputs,
                                   setup["batch_size"], ds.task == "regression")
    if error:
        raise HTTPError(400, f"layer {error['index'] + 1}: {error['message']}",
                        f"layers[{error['index']}]")
    source, optimizer_state = None, None
    if resume:                        # the session's model, where the page says it stands
        model, source, optimizer_state = _continued(session, setup, ds)
    folder = os.path.join(studio.workdir, "runs", session.id[:12], time.strftime(
        "%Y%m%d-%H%M%S") + "-" + uuid.uuid4().hex[:6])
    session.runs += 1
    job = (TextJob if ds.kind == "text" else Job)(
        setup, ds, model, folder, session.channel, number=session.runs, source=source,
        optimizer_state=optimizer_state)
    session.job, session.model = job, model
    session.past.append(job)
    session.model_info = {"setup": setup, "dataset": ds, "job": job, "file": None,
                          "optimizer": None}
    if paused:
        job.state = "paused"
    session.channel.publish("snapshot", {"job": job.snapshot()})
    job.start(paused=paused)
    return JSONResponse({"job": job.status()}, 202)


def _text_model(ds):
    from ..train.settings import build_zoo_model
    return build_zoo_model("charlstm", {"vocab_size": len(ds.classes), **TEXT_MODEL})


@endpoint
async def generate(request, studio, session):
    """Text from the session's character model, after a prompt (between two training steps
    when it trains): ``{"prompt", "length" (1..1000) [300], "temperature" (0..2) [0.8],
    "seed" [0]}`` -> ``{"text"}``."""
    data = await _json(request)
    model, info = _current_model(session)
    ds = info["dataset"]
    if ds.kind != "text":
        raise HTTPError(400, f"the model was trained on {ds.label}, not on text: it does not "
                             "write", "prompt")
    prompt = data.get("prompt", "\n")
    if not isinstance(prompt, str) or not 1 <= len(prompt) <= 500:
        raise HTTPError(400, "prompt must be text of 1 to 500 characters", "prompt")
    unknown = sorted({c for c in prompt if c not in ds.vocab.stoi})
    if unknown:
        raise HTTPError(400, f"the prompt has characters the text never uses: "
                             f"{_short(''.join(unknown))}", "prompt")
    length = spec_number(data.get("length", 300), "int", 1, 1000, "length")
    temperature = spec_number(data.get("temperature", 0.8), "float", 0.0, 2.0, "temperature")
    seed = spec_number(data.get("seed", 0), "int", 0, 2 ** 31 - 1, "seed")
    from ..train.sequence import sample

    def write(m):
        return sample(m, ds.vocab, prompt, length=length, temperature=temperature, seed=seed)
    text = await asyncio.to_thread(_on_model, session, write)
    return JSONResponse({"text": text, "prompt": prompt})


def _same_network(info, dataset, layers, data=None):
    """Whether the session's model (``info``) is the network ``layers`` for ``dataset``
    (with the same input features, for a toy set)."""
    def features(d):
        return (d or {}).get("features") or ["x1", "x2"]
    return (info["dataset"].name == dataset and info["setup"]["layers"] == layers and
            features(info["setup"].get("data")) == features(data))


def _not_failed(info, instead, field):
    """The job that trained the session's model (or None); a 409 saying what to do
    ``instead`` when that run failed, since its weights are worth nothing."""
    job = info.get("job")
    if job is not None and job.state == "failed":
        raise HTTPError(409, f"run {job.number} failed ({job.error}): its weights are not "
                             f"{instead}", field)
    return job


def _continued(session, setup, ds):
    """(model, source, optimizer state) to continue training from: the session's model, if
    it is the network the setup describes. ``source`` says what it is (for the page)."""
    if session.model is None:
        raise HTTPError(409, "there is no model to continue: train one or load a checkpoint "
                             "(or start over from new weights)", "continue")
    info = session.model_info
    if not _same_network(info, setup["dataset"], setup["layers"], setup.get("data")):
        raise HTTPError(409, f"the network on the page is not {_describe(info)['text']}, the "
                             "model to continue: its layers or dataset differ; start over "
                             "from new weights instead", "continue")
    job = _not_failed(info, "worth continuing: start over", "continue")
    source = _describe(info)
    before = 0 if job is None else job.epoch + ((job.source or {}).get("epochs_before") or 0)
    if job is None:
        before = info.get("epochs") or 0
    source["epochs_before"] = before
    state = job.optimizer_state if job is not None else info.get("optimizer")
    source["optimizer"] = state is not None
    return session.model, source, state


def _describe(info):
    """Where the session's model comes from, for the page: ``{"kind": "run" | "file",
    "text", ...}``; a run's entry says its number, state and epoch."""
    job = info.get("job")
    if job is None:
        name = info.get("file") or "the uploaded checkpoint"
        return {"kind": "file", "file": name, "text": f"the loaded file {name}"}
    n, e, total = job.number, job.epoch, job.setup["epochs"]
    if job.state == "paused":
        text = (f"run {n}, paused in epoch {e + 1} of {total} at step {job.step} of "
                f"{job.steps_per_epoch}")
    elif job.state in ("stopped", "stopping") and job.step:
        text = f"run {n}, stopped in epoch {e + 1} of {total} (after step {job.step})"
    elif job.state in ("running", "stopping"):
        text = (f"run {n}, still training: epoch {e + 1} of {total}, step {job.step} of "
                f"{job.steps_per_epoch}")
    elif job.state == "stopped":
        text = f"run {n}, stopped after epoch {e} of {total}"
    elif job.state == "failed":
        text = f"run {n}, failed in epoch {e + 1} of {total}"
    else:
        text = f"run {n} after epoch {e} of {total} (finished)"
    return {"kind": "run", "run": n, "job": job.id, "state": job.state, "epoch": e,
            "epochs": total, "step": job.step, "text": text}


def _control(action):
    @endpoint
    async def handler(request, studio, session):
        await _json(request, empty_ok=True)       # a JSON request, as every state change
        job = session.job
        if job is None or not job.active:
            raise HTTPError(409, f"there is no running training job to {action}")
        getattr(job, action)()
        return JSONResponse({"job": job.status()})
    return handler


@endpoint
async def step(request, studio, session):
    """One training step of a paused job (it pauses again after it)."""
    await _json(request, empty_ok=True)
    job = session.job
    if job is None or job.state != "paused":
        raise HTTPError(409, "Step trains one step of a paused job; there is none (press Step "
                             "before Play, or pause first)")
    before = job.global_step
    job.step_once()
    deadline = time.monotonic() + 30
    while job.global_step == before and job.active and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    return JSONResponse({"job": job.status()})


@endpoint
async def change_settings(request, studio, session):
    """Change the learning rate, weight decay or L1/L2 of the session's job as it runs or
    while it is paused: they apply from its next step."""
    data = await _json(request)
    job = session.job
    if job is None or not job.active:
        raise HTTPError(409, "there is no running or paused job to change; the setting "
                             "applies to the next run")
    new_data = data.pop("data", None)
    settings = check_live_settings(data)
    if new_data is not None:
        new_data = check_data(new_data, job.setup["dataset"])
        old = job.setup.get("data") or check_data({}, job.setup["dataset"])
        if any(new_data[k] != old[k] for k in ("train_share", "features")):
            raise HTTPError(409, "the train/test split and the input features cannot change "
                                 "during a run (the network's inputs depend on them); noise "
                                 "and a new draw can", "data")
        ds = await asyncio.to_thread(studio.registry.toy, job.setup["dataset"], new_data)
        job.change_data(ds, new_data)
    if "lr" in settings and job.setup.get("schedule", "none") != "none":
        raise HTTPError(409, f"the {job.setup['schedule']} schedule sets the learning rate of "
                             "this run; it cannot be changed while it runs", "lr")
    job.change(settings)
    return JSONResponse({"job": job.status()})


@endpoint
async def get_runs(request, studio, session):
    """The session's runs (the last 20), oldest first: settings, last figures, history."""
    return JSONResponse({"runs": [job.summary() for job in list(session.past)]})


@endpoint
async def get_job(request, studio, session):
    return JSONResponse({"job": session.job.snapshot() if session.job else None})


@endpoint
async def events(request, studio, session):
    def message(event, data, event_id=None):
        head = f"id: {event_id}\n" if event_id else ""
        return f"{head}event: {event}\ndata: {json.dumps(data)}\n\n"

    if studio.streams >= MAX_STREAMS:
        raise HTTPError(503, f"the studio already serves {MAX_STREAMS} event streams; close "
                             "some tabs")

    async def stream():
        studio.streams += 1           # counted while the generator runs (ended on disconnect)
        try:
            async for part in messages():
                yield part
        finally:
            studio.streams -= 1

    async def messages():
        last = session.channel.last_id
        job = session.job
        yield message("snapshot", {"job": job.snapshot() if job else None})
        quiet = time.monotonic()
        while not studio.closing:
            new_events = session.channel.since(last)
            for event_id, event, data in new_events:
                last = event_id
                yield message(event, data, event_id)
            if new_events:
                quiet = time.monotonic()
            elif time.monotonic() - quiet > 15:
                quiet = time.monotonic()
                yield ": keep-alive\n\n"
            await asyncio.sleep(0.1)

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


def _current_model(session):
    if session.model is None:
        raise HTTPError(409, "there is no model yet: train one or load a checkpoint")
    return session.model, session.model_info


def _on_model(session, fn):
    """Run ``fn(model)`` safely: between two training steps when the model is training."""
    model, info = _current_model(session)
    job = session.job
    if job is not None and job.model is model:
        try:
            return job.call(lambda: fn(model))
        except concurrent.futures.TimeoutError:
            raise HTTPError(503, "the model is busy training (one step took over a minute); "
                                 "pause the job and try again") from None
    return fn(model)


@endpoint
async def predict(request, studio, session):
    data = await _json(request)
    model, info = _current_model(session)
    ds = info["dataset"]
    if ds.kind == "text":
        raise HTTPError(400, "a character model writes rather than classifies: ask "
                             "POST /api/generate with a prompt")
    if "pixels" in data:
        if ds.kind != "image":
            raise HTTPError(400, f"the model was trained on {ds.label}, which takes "
                                 f"{ds.input_shape[0]} numbers, not a drawing", "pixels")
        x = _drawing(data["pixels"])
    elif "features" in data:
        f = data["features"]
        shape = list(ds.raw_x.shape[1:])   # in the data's own units (a CSV file's, a toy's)
        width = int(np.prod(shape))
        if (not isinstance(f, list) or len(f) != width or
                not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in f)):
            raise HTTPError(400, f"features must be a list of {width} numbers", "features")
        big = [i for i, v in enumerate(f) if not abs(v) <= FLOAT32_MAX]
        if big:
            raise HTTPError(400, f"features[{big[0]}] = {_short(f[big[0]])} is beyond the "
                                 "range of float32", f"features[{big[0]}]")
        x = np.asarray(f, dtype=np.float64).reshape([1] + shape)
        x = ds.featurize(x).astype(np.float32).reshape([1] + ds.input_shape)
    else:
        raise HTTPError(400, "send {\"pixels\": [[...]]} (a drawing) or {\"features\": [...]}")
    def run(m):
        with np.errstate(all="ignore"):     # an overflow shows as a non-finite output below
            out = m.predict(x)
            # a drawing: also what the first layer looks for and sees in it
            return out, first_layer_maps(m, x) if "pixels" in data else None
    logits, maps = await asyncio.to_thread(_on_model, session, run)
    if ds.task == "regression":                 # a value, not probabilities
        value = float(logits[0][0])
        if not np.isfinite(value):
            raise HTTPError(422, "the model's output for this input is not a number (NaN or "
                                 "infinite)", "features")
        return JSONResponse({"value": value, "classes": [], "prediction": None})
    with np.errstate(all="ignore"):
        probs = softmax_array(np.asarray(logits[0], dtype=np.float64))
    if not np.isfinite(probs).all():
        raise HTTPError(422, "the model's output for this input is not a number (NaN or "
                             "infinite): the input is too large for it, or its weights are "
                             "broken", "features" if "features" in data else "pixels")
    answer = {"probabilities": [float(p) for p in probs], "classes": ds.classes,
              "prediction": int(probs.argmax())}
    if maps is not None:
        answer["first_layer"] = maps
    return JSONResponse(answer)


def _drawing(pixels):
    """A drawing (nested lists, ink = 1) -> a (1, 1, 28, 28) MNIST-style batch."""
    try:
        arr = np.asarray(pixels, dtype=np.float32)
    except (TypeError, ValueError, OverflowError):
        raise HTTPError(400, "pixels must be a rectangular 2-D list of numbers", "pixels") \
            from None
    if arr.ndim != 2 or not (8 <= arr.shape[0] <= 512 and 8 <= arr.shape[1] <= 512):
        raise HTTPError(400, f"pixels must be a 2-D list from 8x8 to 512x512, got shape "
                             f"{list(arr.shape)}", "pixels")
    if not np.isfinite(arr).all():
        raise HTTPError(400, "pixels must be finite numbers", "pixels")
    from ..data.images import to_mnist_array
    from ..errors import DatasetError
    try:
        digit = to_mnist_array(np.clip(arr, 0, 1))
    except DatasetError as e:
        raise HTTPError(400, f"{e}: draw something first", "pixels") from None
    return digit[None, None]


def _model_path(studio, name):
    return os.path.join(studio.workdir, "models", _name(name) + ".ckpt")


def _suffixed(name, suffix):
    """``name`` with ``-suffix``, cut so that the whole stays a valid 64-character name."""
    suffix = f"-{suffix}"
    return name[:64 - len(suffix)] + suffix


def _choose_name(studio, session, name, overwrite):
    """The name a save writes to, reserved for ``session`` (call under ``studio.save_lock``).

    A name belongs to the session that first saved it: only that session may overwrite it
    (``overwrite``); a file the studio did not write in this run belongs to no session. Without
    ``overwrite`` a taken name gets the first free suffix -2 ... -100, then a random one: the
    search is bounded, never a loop."""
    def taken(stem):
        return stem in studio.owners or os.path.exists(_model_path(studio, stem))

    if overwrite and studio.owners.get(name) == session.id:
        return name
    if overwrite and taken(name):
        raise HTTPError(409, f"the model name {name!r} belongs to another session (or to a "
                             "file saved before this studio started): only the session that "
                             "saved it can overwrite it; choose another name", "name")
    candidates = [name] + [_suffixed(name, k) for k in range(2, MAX_NAME_TRIES + 1)]
    candidates += [_suffixed(name, uuid.uuid4().hex[:10]) for _ in range(4)]
    for stem in candidates:
        if not taken(stem):
            return stem
    raise HTTPError(409, f"no free name like {name!r} was found; choose another name", "name")


def _copy_model(model):
    """A copy of the model's current weights (taken between two training steps: fast, so
    the job never waits for the file to be written)."""
    import copy
    return copy.deepcopy(model)


@endpoint
async def save_model(request, studio, session):
    data = await _json(request)
    name = _name(data.get("name", "model"))
    overwrite = data.get("overwrite", False)
    if not isinstance(overwrite, bool):
        raise HTTPError(400, "overwrite must be true or false", "overwrite")
    model, info = _current_model(session)
    shown = data.get("setup")
    if shown is not None:        # what the page shows: the file must hold that network
        if not isinstance(shown, dict):
            raise HTTPError(400, "setup must be an object with the dataset and layers the "
                                 "page shows", "setup")
        layers = check_layers(shown.get("layers")) if shown.get("layers") != [] else []
        data = shown.get("data")
        if not _same_network(info, shown.get("dataset"), layers,
                             data if isinstance(data, dict) else None):
            raise HTTPError(409, "the network on the page has not been trained: the "
                                 f"session's model is {_describe(info)['text']} "
                                 f"({info['dataset'].label}, {len(info['setup']['layers'])} "
                                 "layers), a different network. Train the network shown "
                                 "(Start) or load a checkpoint, then save", "setup")
    _not_failed(info, "worth saving; start a new run", "name")
    ds = info["dataset"]
    payload = {"classes": ds.classes, "input_shape": ds.input_shape or None,   # text: none
               "studio_setup": info["setup"]}
    if ds.kind == "image":
        payload["dataset"] = ds.name
    # the weights and where they stand (run, epoch, step), read together between two steps
    snapshot, source = await asyncio.to_thread(
        _on_model, session, lambda m: (_copy_model(m), _describe(info)))
    with studio.save_lock:                     # bounded: a name check, never the write
        stem = _choose_name(studio, session, name, overwrite)
        new = stem not in studio.owners
        studio.owners[stem] = session.id
    path = _model_path(studio, stem)
    try:
        await asyncio.to_thread(ournn_io.save, {"model": snapshot, **payload}, path)
    except BaseException:
        if new:
            with studio.save_lock:
                studio.owners.pop(stem, None)
        raise
    session.saved.add(stem)
    return JSONResponse({"path": path, "name": stem, "source": source,
                         "download": f"/api/model/download?name={stem}"})


@endpoint
async def download_model(request, studio, session):
    name = request.query_params.get("name")
    fmt = request.query_params.get("format", "ckpt")
    if fmt not in DOWNLOAD_FORMATS:
        raise HTTPError(400, f"format must be one of {', '.join(DOWNLOAD_FORMATS)}, got "
                             f"{_short(fmt)}", "format")
    path = _model_path(studio, name)
    # only this session's saves: a name another session saved (or overwrote) is not found
    if studio.owners.get(name) != session.id or not os.path.exists(path):
        raise HTTPError(404, f"no saved model named {_short(name)} in this session", "name")
    if fmt == "ckpt":
        return FileResponse(path, media_type="application/octet-stream",
                            filename=os.path.basename(path))
    data = await asyncio.to_thread(_convert_saved_model, path, fmt)
    stem = os.path.splitext(os.path.basename(path))[0]
    return Response(data, media_type="application/octet-stream", headers={
        "Content-Disposition": f'attachment; filename="{stem}.{fmt}"'})


DOWNLOAD_FORMATS = ("ckpt", "safetensors", "onnx")


def _convert_saved_model(path, fmt):
    """The bytes of a saved model as safetensors (the weights, for PyTorch) or ONNX (the
    graph, for onnxruntime and other runtimes), as ``ournn export`` writes them."""
    import io as _io

    from ..tensor import Tensor
    from ..train.checkpoints import load_model as read_model
    model, meta = read_model(path)
    buffer = _io.BytesIO()
    if fmt == "safetensors":
        from ..io.safetensors import save_file
        save_file(model.state_dict(), buffer, metadata={"format": "pt"})
        return buffer.getvalue()
    try:
        from ..onnx import export
        import onnx  # noqa: F401  (the exporter needs it: say so before tracing)
    except ImportError:
        raise HTTPError(503, "ONNX export needs the onnx package on the server: "
                             "pip install 'ournn[onnx]'", "format") from None
    shape = tuple(meta.get("input_shape") or ())
    if not shape:
        raise HTTPError(409, "this model does not record its input shape", "format")
    example = Tensor._make(np.zeros((1, *shape), dtype=np.float32))
    export(model, example, buffer)
    return buffer.getvalue()


@endpoint
async def load_model(request, studio, session):
    if session.job and session.job.active:
        raise HTTPError(409, "stop the training job before loading a model")
    raw = await _body(request, CKPT_MAX_BYTES, ("application/octet-stream",))
    name = request.query_params.get("name")
    name = _text_param(name, "name", path=True) if name else None
    if not raw:
        raise HTTPError(400, "the body is empty: send the bytes of a .ckpt file", "file")
    result = await asyncio.to_thread(_read_checkpoint, studio, session, raw, name)
    return JSONResponse(result)


def _reword(message, path=None):
    """A checkpoint reader's message for the page: the temporary path becomes "the uploaded
    file", and advice about pickles (NumPy's ``allow_pickle``) is never passed on."""
    if path:
        message = message.replace(path, "the uploaded file")
    if "pickle" in message.lower():
        return ("the uploaded file is not an ournn checkpoint: it is not an archive of plain "
                "arrays (the studio never reads pickled data)")
    return message[:500]


def _read_checkpoint(studio, session, raw, file_name=None):
    from ..train.checkpoints import load_model as read_model
    # what the file declares, checked before anything is unpacked or built
    inspect_checkpoint(raw, LIMITS["max_params"], CKPT_MAX_UNPACKED,
                       ZOO_FOR_IMAGES + tuple(ZOO_ALIASES)      # old checkpoints name aliases
                       + ("charlstm",))                         # the studio's text model
    folder = os.path.join(studio.workdir, "uploads")
    os.makedirs(folder, exist_ok=True)
    fd, path = ournn_io.temporary_file(folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(raw)
        try:
            model, meta = read_model(path)      # .npz, read with allow_pickle=False
            tree = ournn_io.load(path, rebuild=False)
            trainer = tree.get("trainer") if isinstance(tree, dict) else None
        except MemoryError:
            raise HTTPError(413, "the checkpoint's model does not fit in the server's memory",
                            "file") from None
        except OurnnError as e:
            message = _reword(str(e), path)
            if "the uploaded file" not in message:
                message = f"the uploaded checkpoint does not load: {message}"
            raise HTTPError(400, message, "file") from None
        except (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError,
                RecursionError, EOFError, OSError, zipfile.BadZipFile) as e:
            raise HTTPError(400, "the uploaded file is not a valid ournn checkpoint: " +
                            _reword(f"{type(e).__name__}: {e}", path), "file") from None
    finally:
        os.unlink(path)
    from ..models.charlm import CharLSTM
    try:
        layers = [] if isinstance(model, CharLSTM) else layers_of(model)   # text: no layers
    except SpecError as e:
        raise HTTPError(400, f"the checkpoint's model cannot be shown in the studio: {e}",
                        "file") from None
    for p in model.parameters():
        if not np.isfinite(p.numpy()).all():
            raise HTTPError(400, "the checkpoint's weights contain NaN or infinite values",
                            "file")
    meta = meta if isinstance(meta, dict) else {}
    setup = meta.get("studio_setup") or {}
    if not isinstance(setup, dict):
        raise HTTPError(400, "the checkpoint's metadata is malformed: studio_setup must be an "
                             f"object, not {type(setup).__name__}", "file")
    name = setup.get("dataset") or meta.get("dataset") or "mnist"
    if not isinstance(name, str) or len(name) > 200:
        raise HTTPError(400, "the checkpoint's metadata is malformed: dataset must be a "
                             f"dataset name, not {_short(name)}", "file")
    try:
        ds = session.datasets.get(name) or studio.registry.get(name)
        if ds is not None and setup.get("data") is not None:
            ds = studio.registry.toy(name, check_data(setup["data"], name))
    except SpecError as e:
        raise HTTPError(400, f"the checkpoint's metadata is malformed: studio_setup: {e}",
                        "file") from None
    except OurnnError as e:
        raise HTTPError(503, f"dataset {name!r} could not be loaded on the server: {e}",
                        "file") from None
    if ds is None:
        raise HTTPError(400, f"the checkpoint was trained on {name!r}, which this session "
                             "does not have (upload that CSV first)", "file")
    input_shape = meta.get("input_shape")
    if input_shape is not None:
        if (not isinstance(input_shape, (list, tuple)) or len(input_shape) > 8 or
                not all(type(d) is int for d in input_shape)):
            raise HTTPError(400, "the checkpoint's metadata is malformed: input_shape must be "
                                 f"a list of whole numbers, not {_short(input_shape)}", "file")
        if list(input_shape) != ds.input_shape:
            raise HTTPError(400, f"the checkpoint takes inputs of shape {list(input_shape)}, "
                                 f"{ds.label} has {ds.input_shape}", "file")
    if (ds.kind == "text") != (not layers):
        raise HTTPError(400, f"the checkpoint's model does not fit {ds.label}: "
                             + ("a character model learns text only" if not layers else
                                "text trains the studio's character model"), "file")
    if ds.kind == "text":
        if model.embed.weight.shape[0] != len(ds.classes):
            raise HTTPError(400, f"the checkpoint's character model reads "
                                 f"{model.embed.weight.shape[0]} characters, {ds.label} has "
                                 f"{len(ds.classes)}", "file")
    else:
        _, rows, error = build(layers, ds.input_shape, ds.outputs, 1,
                               ds.task == "regression")
        if error:
            raise HTTPError(400, f"the checkpoint's model does not fit {ds.label}: "
                                 f"{error['message']}", "file")
    # the setup the page will show and train again: checked as if the page had sent it
    known = {k: v for k, v in setup.items() if k in SETUP_DEFAULTS or k == "data"}
    try:
        setup = check_setup({**known, "dataset": ds.name, "layers": layers},
                            {ds.name: ds.info()})
    except SpecError as e:
        raise HTTPError(400, f"the checkpoint's metadata is malformed: studio_setup: {e}",
                        "file") from None
    # a training checkpoint (last.ckpt, best.ckpt) also holds the optimizer's state and
    # how many epochs it trained: "continue training" uses them
    optimizer, epochs = None, None
    if isinstance(trainer, dict):
        optimizer = trainer.get("optimizer") if isinstance(trainer.get("optimizer"),
                                                           dict) else None
        epochs = trainer.get("epoch") if type(trainer.get("epoch")) is int else None
    session.model = model
    session.model_info = {"setup": setup, "dataset": ds, "job": None, "file": file_name,
                          "optimizer": optimizer, "epochs": epochs}
    return {"setup": setup, "dataset": ds.name, "file": file_name, "epochs": epochs,
            "optimizer_state": optimizer is not None,
            "total_params": int(sum(p.numpy().size for p in model.parameters()))}


@endpoint
async def export(request, studio, session):
    data = await _json(request)
    setup = check_setup(data, studio.infos(session))
    ds = await asyncio.to_thread(studio.dataset, session, setup["dataset"], "dataset",
                                 setup.get("data"))
    if ds.kind == "text":
        raise HTTPError(400, "the character model is not exported as a script: `ournn train "
                             "--model charlstm --dataset shakespeare` trains one", "dataset")
    _, rows, error = build(setup["layers"], ds.input_shape, ds.outputs, 1,
                           ds.task == "regression")
    if error:
        raise HTTPError(400, f"layer {error['index'] + 1}: {error['message']}",
                        f"layers[{error['index']}]")
    script = export_script(setup, ds, rows)
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", ds.file_stem)[:60] or "studio"
    return Response(script, media_type="text/x-python", headers={
        "Content-Disposition": f'attachment; filename="{stem}_studio.py"'})


@endpoint
async def upload_csv(request, studio, session):
    # text/csv or raw bytes: not text/plain, which a page on another site could send
    raw = await _body(request, CSV_MAX_BYTES, ("text/csv", "application/octet-stream"))
    name = _text_param(request.query_params.get("name", "upload.csv"), "name", path=True)
    label = request.query_params.get("label")
    label = _text_param(label, "label") if label else None
    ds = await asyncio.to_thread(parse_csv, raw, name, label)
    held = sum(d.x.nbytes + d.tx.nbytes for s in list(studio.sessions.values())
               for d in s.datasets.values() if d.name != ds.name or s is not session)
    if held + ds.x.nbytes + ds.tx.nbytes > UPLOADS_MAX_BYTES:
        raise HTTPError(413, f"the studio already holds {held / 2 ** 20:.0f} MB of uploaded "
                             f"data (at most {UPLOADS_MAX_BYTES / 2 ** 30:.0f} GB in all); "
                             "restart it to free them", "file")
    if len(session.datasets) >= MAX_CSV_PER_SESSION and ds.name not in session.datasets:
        oldest = next(iter(session.datasets))
        studio.forget_upload(session, session.datasets.pop(oldest))
    session.datasets[ds.name] = ds
    # kept in the work folder: a restarted studio gives this session its data back
    await asyncio.to_thread(studio.keep_upload, session, ds, raw, name, label)
    return JSONResponse({"dataset": ds.info()})


async def not_found(request, exc):
    return JSONResponse({"error": f"no such page: {request.url.path}", "field": None}, 404)


async def server_error(request, exc):
    return JSONResponse({"error": f"internal error: {type(exc).__name__}: {exc}",
                         "field": None}, 500)


class _Static(StaticFiles):
    """The page's files, revalidated on every load (so an upgraded ournn is never shown with
    stale scripts)."""

    def file_response(self, *args, **kwargs):
        response = super().file_response(*args, **kwargs)
        response.headers["Cache-Control"] = "no-cache"
        return response


def create_app(workdir="studio-runs", data_dir=None, host=None, port=None):
    """The studio as an ASGI app (serve it with any ASGI server, e.g. uvicorn). It answers
    only for 127.0.0.1, localhost, [::1] and ``host``, on ``port`` (None: the port each
    request came in on); see ``guard.Guard``."""
    studio = Studio(workdir, data_dir)
    routes = [
        Route("/", page),
        Route("/api/options", get_options),
        Route("/api/datasets/{name}/samples", samples),
        Route("/api/model/check", model_check, methods=["POST"]),
        Route("/api/zoo/{name}", zoo),
        Route("/api/train", train, methods=["POST"]),
        Route("/api/train/pause", _control("pause"), methods=["POST"]),
        Route("/api/train/resume", _control("resume"), methods=["POST"]),
        Route("/api/train/stop", _control("stop"), methods=["POST"]),
        Route("/api/train/step", step, methods=["POST"]),
        Route("/api/train/settings", change_settings, methods=["POST"]),
        Route("/api/job", get_job),
        Route("/api/runs", get_runs),
        Route("/api/events", events),
        Route("/api/predict", predict, methods=["POST"]),
        Route("/api/generate", generate, methods=["POST"]),
        Route("/api/model/save", save_model, methods=["POST"]),
        Route("/api/model/download", download_model),
        Route("/api/model/load", load_model, methods=["POST"]),
        Route("/api/export", export, methods=["POST"]),
        Route("/api/csv", upload_csv, methods=["POST"]),
        Mount("/static", _Static(directory=STATIC), name="static"),
    ]
    app = Starlette(routes=routes, exception_handlers={404: not_found, 405: _method,
                                                       500: server_error},
                    middleware=[Middleware(Guard, hosts=[host] if host else [], port=port)])
    app.state.studio = studio
    return app


async def _method(request, exc):
    return JSONResponse({"error": f"{request.method} is not allowed on {request.url.path}",
                         "field": None}, 405)
