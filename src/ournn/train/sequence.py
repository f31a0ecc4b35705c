"""Training and sampling character language models (``charlstm`` and ``chargpt`` on
``shakespeare``).

``ournn train --model charlstm --dataset shakespeare`` comes here from the recipe
(``run_training``): the training split is cut into ``batch_size`` contiguous streams
(:class:`ournn.data.ChunkLoader`), each step trains on the next ``seq_len`` characters of
every stream starting from the hidden state the previous chunk ended with, detached
(truncated BPTT), and the state starts afresh with every epoch. After each epoch the whole
validation split is scored the same way (state carried, no graph); the losses are shown per
character in nats and in bits (nats / ln 2), and a few lines are sampled from the model.

The run folder holds what ``ournn train`` writes for images: ``config.json``,
``last.ckpt`` (every epoch, and on Ctrl-C mid-epoch: ``--resume`` continues batch for batch),
``best.ckpt`` (lowest validation loss), ``history.json``, ``metrics.csv`` and
``results.json``. A checkpoint also holds the vocabulary (``vocab``: the characters in index
order), which ``ournn generate`` reads (:func:`generate`).
"""
import csv
import io
import json
import math
import os
import time

import numpy as np

from .. import random as _random

LN2 = math.log(2.0)
CLIP_NORM = 5.0               # gradients clipped to this global norm (LSTMs need it)
SAMPLE_LINES = 3              # lines of text shown after each epoch
SAMPLE_CHARS = 240            # at most this many characters sampled for them
SAMPLE_TEMPERATURE = 0.8
SEQUENCE_DATASETS = ("shakespeare",)
PROGRESS_EVERY = 10.0         # seconds between progress lines


def bits(nats):
    """Nats per character in bits per character."""
    return nats / LN2


def lm_loss(logits, targets, label_smoothing=0.0):
    """Mean cross-entropy per character of ``logits`` (B, T, V) against int ``targets``
    (B, T), in nats."""
    from ..nn import functional as F
    from ..tensor import Tensor
    V = logits.size()[-1]
    y = targets if isinstance(targets, Tensor) else Tensor(np.asarray(targets).reshape(-1))
    return F.cross_entropy(logits.reshape(-1, V), y.reshape(-1),
                           label_smoothing=label_smoothing)


def train_step(model, optimizer, x, y, hidden=None, clip=CLIP_NORM, label_smoothing=0.0):
    """One step of truncated BPTT: forward ``x`` (B, T) from ``hidden``, backward, clip,
    step. Returns ``(loss in nats, the new hidden state, detached)``. The state handed in
    must be detached already (:func:`ournn.data.repackage_hidden`), or the backward runs
    into the previous chunk's graph, freed by its own backward."""
    from ..data.chunks import repackage_hidden
    from ..nn.utils import clip_grad_norm_
    from ..tensor import Tensor
    logits, hidden = model(Tensor(np.asarray(x)), hidden)
    loss = lm_loss(logits, y, label_smoothing)
    optimizer.zero_grad()
    loss.backward()
    if clip:
        clip_grad_norm_(model.parameters(), clip)
    optimizer.step()
    return float(loss.item()), repackage_hidden(hidden)


def evaluate_lm(model, data, batch_size=64, seq_len=200):
    """Mean loss per character (nats) of ``model`` on the int sequence ``data``, read as
    ``batch_size`` contiguous streams with the hidden state carried (no graph)."""
    from ..autograd import no_grad
    from ..data.chunks import ChunkLoader
    from ..tensor import Tensor
    loader = ChunkLoader(data, batch_size=min(batch_size, max(1, len(data) - 1)),
                         seq_len=seq_len)
    was_training = model.training
    model.eval()
    total, count, hidden = 0.0, 0, None
    try:
        with no_grad():
            for x, y in loader:
                logits, hidden = model(Tensor(x), hidden)
                total += float(lm_loss(logits, y).item()) * y.size
                count += y.size
    finally:
        model.train(was_training)
    return total / max(count, 1)


def sample(model, vocab, prompt="\n", length=200, temperature=0.8, seed=0, top_k=None):
    """``prompt`` followed by ``length`` characters drawn from the model, one at a time
    (``temperature`` divides the logits; 0 picks the most likely character). The same
    ``seed`` gives the same text. A prompt character outside the vocabulary is a ValueError
    naming it."""
    from ..autograd import no_grad
    from ..tensor import Tensor
    ids = vocab.encode(prompt, unknown="error")
    if len(ids) == 0:
        raise ValueError("the prompt is empty: give at least one character")
    rng = np.random.default_rng(seed)
    was_training = model.training
    model.eval()
    out = []
    try:
        with no_grad():
            logits, hidden = model(Tensor(ids[None, :]), None)
            last = np.asarray(logits._data)[0, -1].astype(np.float64)
            for _ in range(int(length)):
                if temperature <= 0:
                    nxt = int(np.argmax(last))
                else:
                    z = last / temperature
                    if top_k:
                        z[np.argsort(z)[:-top_k]] = -np.inf
                    p = np.exp(z - z.max())
                    p /= p.sum()
                    nxt = int(rng.choice(len(p), p=p))
                out.append(nxt)
                logits, hidden = model(Tensor(np.array([[nxt]], dtype=np.int64)), hidden)
                last = np.asarray(logits._data)[0, -1].astype(np.float64)
    finally:
        model.train(was_training)
    return prompt + vocab.decode(out)


# ---------------------------------------------------------------- checkpoints
def load_language_model(path):
    """``(model, vocab, meta)`` from a checkpoint of ``ournn train --model charlstm``
    (``last.ckpt``/``best.ckpt``); a checkpoint without a vocabulary (an image model) is a
    CheckpointError saying so."""
    from ..data.shakespeare import CharVocab
    from ..errors import CheckpointError
    from ..io import load
    from .checkpoints import load_model
    model, meta = load_model(path)
    obj = load(path, rebuild=False)
    itos = obj.get("vocab") if isinstance(obj, dict) else None
    if not isinstance(itos, str) or not itos:
        raise CheckpointError(f"{path}: field vocab: missing (not a checkpoint of a character "
                              "language model: train one with `ournn train --model charlstm "
                              "--dataset shakespeare`)")
    try:
        vocab = CharVocab.from_string(itos)
    except ValueError as e:
        raise CheckpointError(f"{path}: field vocab: {e}") from None
    size = getattr(model, "vocab_size", None)
    if size is not None and size != len(vocab):
        raise CheckpointError(f"{path}: the model has {size} outputs but the vocabulary "
                              f"{len(vocab)} characters")
    if not hasattr(model, "vocab_size"):
        raise CheckpointError(f"{path}: holds a {type(model).__name__}, not a language model")
    return model, vocab, meta


def generate(ckpt, prompt="\n", length=500, temperature=0.8, seed=0, top_k=None):
    """Text from the language model of checkpoint ``ckpt`` (what ``ournn generate`` prints)."""
    model, vocab, _ = load_language_model(ckpt)
    return sample(model, vocab, prompt, length, temperature, seed, top_k)


# ---------------------------------------------------------------- ournn train
def check_sequence_config(cfg):
    """A language model trains on text and text only on a language model: SettingError
    otherwise (and for the image-only settings)."""
    from ..models import SEQUENCE_MODELS
    from .settings import SettingError
    text_data = cfg["dataset"] in SEQUENCE_DATASETS
    lm = cfg["model"] in SEQUENCE_MODELS
    if lm and not text_data:
        raise SettingError(f"model (--model) {cfg['model']} is a character language model: "
                           f"train it on {', '.join(SEQUENCE_DATASETS)} (--dataset), not "
                           f"{cfg['dataset']}")
    if text_data and not lm:
        raise SettingError(f"dataset (--dataset) {cfg['dataset']} is text: train a language "
                           f"model on it ({', '.join(SEQUENCE_MODELS)}), not {cfg['model']}")
    if text_data:
        if cfg["augment"] != "none":
            raise SettingError("augment (--augment) moves images; it does not apply to "
                               f"{cfg['dataset']} (use none)")
        if cfg["val_split"]:
            raise SettingError(f"val_split (--val-split) does not apply to {cfg['dataset']}: "
                               "the standard split's last 10% validates")
    return text_data


def run_sequence_training(cfg, state=None, extra_callbacks=(), stream=None):
    """Train a language model as ``ournn train`` does (``cfg`` checked, ``state`` the loaded
    ``last.ckpt`` when resuming). Returns ``{"history", "test", "out", "results", "model"}``
    with ``test`` the validation loss (``loss`` in nats, ``bits`` per character)."""
    import sys

    from ..data import ChunkLoader, Shakespeare
    from ..errors import DatasetError
    from ..io import atomic_write_text, save
    from ..nn.config import module_config
    from ..optim.registry import make_optimizer
    from .options import make_schedule
    from .settings import build_zoo_model
    from .settings import SettingError

    data_dir = cfg["data_dir"]
    if data_dir is not None and not os.path.isdir(data_dir):
        raise SettingError(f"data_dir (--data-dir) must be a folder with the dataset files; "
                           f"{data_dir!r} is "
                           f"{'a file' if os.path.exists(data_dir) else 'missing'}")
    train, valid = Shakespeare("train", root=data_dir), Shakespeare("valid", root=data_dir)
    vocab = train.vocab
    train_ids, valid_ids = train.data, valid.data
    if cfg["limit"]:
        if cfg["limit"] > len(train_ids):
            raise SettingError(f"limit (--limit) must be from 0 (all) to {len(train_ids)} "
                               f"(the training characters), got {cfg['limit']}")
        train_ids, valid_ids = train_ids[:cfg["limit"]], valid_ids[:cfg["limit"]]
    kwargs = dict(cfg["model_kwargs"])
    if kwargs.setdefault("vocab_size", len(vocab)) != len(vocab):
        raise SettingError(f"model_kwargs (--model-kwargs): vocab_size must be {len(vocab)} "
                           f"(the characters of the training text), got {kwargs['vocab_size']}")
    try:
        loader = ChunkLoader(train_ids, cfg["batch_size"], cfg["seq_len"])
    except (ValueError, DatasetError) as e:  # too little text for the streams asked
        raise SettingError(f"batch_size (--batch-size) {cfg['batch_size']} and seq_len "
                           f"(--seq-len) {cfg['seq_len']}: {e}") from None
    model = build_zoo_model(cfg["model"], kwargs)
    context = getattr(model, "context", None)       # a transformer reads a fixed window
    if context is not None and cfg["seq_len"] > context:
        raise SettingError(f"seq_len (--seq-len) {cfg['seq_len']} is longer than {cfg['model']}'s "
                           f"context of {context} characters: use --seq-len {context} or less, "
                           f"or a larger context in --model-kwargs")
    out = cfg["out"]
    os.makedirs(out, exist_ok=True)
    atomic_write_text(os.path.join(out, "config.json"), json.dumps(cfg, indent=2))
    optimizer = make_optimizer(cfg["optimizer"], model.parameters(), cfg["lr"],
                               cfg["weight_decay"], cfg["momentum"])
    scheduler = make_schedule(cfg["schedule"], optimizer, cfg["lr"], cfg["epochs"],
                              len(loader), cfg["warmup_epochs"])
    history, best, hidden, epoch = [], None, None, 0
    running = {"loss_sum": 0.0, "chars": 0, "seconds": 0.0}
    if state is not None:
        tr = state["trainer"]
        model.load_state_dict(tr["model"])
        optimizer.load_state_dict(tr["optimizer"])
        if scheduler is not None and tr.get("schedulers"):
            scheduler.load_state_dict(tr["schedulers"][0])
        loader.load_state_dict(tr["loader"])
        _random.set_state(tr["rng"])
        history = list(tr.get("history") or [])
        running = dict(tr.get("running") or running)
        epoch = int(tr["epoch"])
        best = state.get("best")
        saved_hidden = tr.get("hidden")
        if saved_hidden and loader.position:
            from ..tensor import Tensor
            hidden = tuple(Tensor(np.asarray(h)) for h in saved_hidden)
    stream = sys.stdout if stream is None else stream
    quiet = cfg["verbose"] == 0

    def say(text):
        if not quiet:
            print(text, file=stream, flush=True)

    def payload(logs=None):
        return {"trainer": {
                    "model": model.state_dict(), "model_config": module_config(model),
                    "optimizer": optimizer.state_dict(),
                    "schedulers": [scheduler.state_dict()] if scheduler is not None else [],
                    "loader": loader.state_dict(), "rng": _random.get_state(),
                    "epoch": epoch, "history": history, "running": dict(running),
                    "hidden": None if hidden is None else [h.numpy() for h in hidden]},
                "best": best, "logs": logs or {}, "run_config": cfg,
                "dataset": cfg["dataset"], "input_shape": [cfg["seq_len"]],
                "vocab": str(vocab)}

    n_params = sum(p.numel() for p in model.parameters())
    say(f"{cfg['model']} ({n_params:,} parameters) on {cfg['dataset']}: "
        f"{len(train_ids):,} training / {len(valid_ids):,} validation characters, "
        f"{len(vocab)} in the vocabulary; {loader.batch_size} streams x {loader.seq_len} steps,"
        f" {len(loader)} batches per epoch")
    interrupted = False
    start = time.perf_counter()
    last_line = time.perf_counter()
    try:
        while epoch < cfg["epochs"]:
            if loader.position == 0:
                hidden = None
                running = {"loss_sum": 0.0, "chars": 0, "seconds": 0.0}
            t0 = time.perf_counter()
            for x, y in loader:
                if loader.new_epoch:
                    hidden = None
                step_start = time.perf_counter()
                loss, hidden = train_step(model, optimizer, x, y, hidden,
                                          label_smoothing=cfg["label_smoothing"])
                if not math.isfinite(loss):
                    from .loop import NonFiniteLossError
                    raise NonFiniteLossError(f"the training loss became {loss} at epoch "
                                             f"{epoch + 1}, batch {loader.position}; lower "
                                             "--lr")
                if scheduler is not None:
                    scheduler.step()
                running["loss_sum"] += loss * y.size
                running["chars"] += int(y.size)
                running["seconds"] += time.perf_counter() - step_start
                now = time.perf_counter()
                if now - last_line >= PROGRESS_EVERY:
                    last_line = now
                    mean = running["loss_sum"] / running["chars"]
                    say(f"  epoch {epoch + 1} batch {loader.position}/{len(loader)}: loss "
                        f"{mean:.4f} nats/char ({bits(mean):.4f} bits), "
                        f"{running['chars'] / max(running['seconds'], 1e-9):,.0f} chars/s")
            train_loss = running["loss_sum"] / max(running["chars"], 1)
            val = evaluate_lm(model, valid_ids, batch_size=64, seq_len=cfg["seq_len"])
            hidden = None
            logs = {"epoch": epoch + 1, "loss": train_loss, "bits": bits(train_loss),
                    "val_loss": val, "val_bits": bits(val),
                    "chars_per_second": running["chars"] / max(running["seconds"], 1e-9),
                    "time": time.perf_counter() - t0,
                    "lr": optimizer.param_groups[0]["lr"]}
            history.append(logs)
            epoch += 1
            improved = best is None or val < best
            best = val if improved else best
            say(f"epoch {epoch}/{cfg['epochs']}: loss {train_loss:.4f} nats/char "
                f"({bits(train_loss):.4f} bits), val_loss {val:.4f} nats/char "
                f"({bits(val):.4f} bits){'  *best*' if improved else ''}")
            text = sample(model, vocab, "\n", SAMPLE_CHARS, SAMPLE_TEMPERATURE, seed=epoch)
            lines = [ln for ln in text.split("\n") if ln.strip()][:SAMPLE_LINES]
            for ln in lines:
                say(f"  | {ln}")
            save(payload(logs), os.path.join(out, "last.ckpt"))
            if improved:
                save(payload(logs), os.path.join(out, "best.ckpt"))
            _write_history(out, history)
            for cb in extra_callbacks:
                hook = getattr(cb, "on_epoch_end", None)
                if hook is not None:
                    hook(None, logs)
    except KeyboardInterrupt:
        interrupted = True
        save(payload(), os.path.join(out, "last.ckpt"))
    wall = time.perf_counter() - start
    val = history[-1]["val_loss"] if history else None
    test = {"loss": val, "bits": None if val is None else bits(val),
            "best_loss": best, "best_bits": None if best is None else bits(best)}
    results = {"model": cfg["model"], "dataset": cfg["dataset"], "epochs": len(history),
               "val_loss_nats": val, "val_bits_per_char": test["bits"],
               "best_val_loss_nats": best, "best_val_bits_per_char": test["best_bits"],
               "chars_per_second": history[-1]["chars_per_second"] if history else None,
               "wall_seconds_this_session": wall, "interrupted": interrupted}
    atomic_write_text(os.path.join(out, "results.json"), json.dumps(results, indent=2))
    return {"history": history, "test": test, "out": out, "results": results,
            "model": model, "vocab": vocab}


def _write_history(out, history):
    from ..io import atomic_write_text
    atomic_write_text(os.path.join(out, "history.json"), json.dumps(history, indent=2))
    buf = io.StringIO()
    keys = list(history[0]) if history else []
    writer = csv.DictWriter(buf, fieldnames=keys, lineterminator="\n")
    writer.writeheader()
    writer.writerows(history)
    atomic_write_text(os.path.join(out, "metrics.csv"), buf.getvalue())
