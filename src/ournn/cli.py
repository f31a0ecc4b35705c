"""The ``ournn`` command line: parses arguments and calls the library (``ournn.train.recipe``,
``ournn.train.checkpoints``, ``ournn.tune``, ``ournn.viz``). Exit codes: 0 success, 2 bad usage, 1 any other error (one line, no
traceback unless ``--debug``), 130 interrupted."""
import argparse
import json
import os
import sys

from . import __version__
from .train.settings import SETTINGS, Setting, SettingError

# Every value the command line takes is checked by one mechanism: a ``Setting`` (range,
# kind, choices) whose ``parse`` is the flag's argparse type. Training flags share theirs
# with the keys of a TOML file (``ournn.train.settings.SETTINGS``, checked by check_config).
TOP = Setting("int", 1, 1, 1000, flag="--top")
TRIALS = Setting("int", 8, 1, 100_000, flag="--trials")
WORKERS = Setting("int", 1, 1, 256, flag="--workers")
PORT = Setting("int", 8765, 1, 65535, flag="--port")
LENGTH = Setting("int", 500, 0, 1_000_000, flag="--length")
TEMPERATURE = Setting("float", 0.8, 0, 100, flag="--temperature")
TOP_K = Setting("int", 0, 0, 1_000_000, flag="--top-k")
MAX_PROMPT = 100_000
for _name, _s in (("top", TOP), ("trials", TRIALS), ("workers", WORKERS), ("port", PORT),
                   ("length", LENGTH), ("temperature", TEMPERATURE), ("top_k", TOP_K)):
    _s.name = _name
MAX_INPUT_ELEMENTS = 50_000_000     # ournn summary --input: one sample's numbers


def _setting(p, key, help=None, setting=None, **kw):
    """A flag whose value ``SETTINGS[key]`` (or ``setting``) checks."""
    s = setting or SETTINGS[key]
    text = help or ""
    p.add_argument(s.flag, type=s.parse, dest=key, help=(text + " " if text else "") +
                   f"({s.accepted()})", **kw)


def _shape(text):
    """argparse type for --input: a shape like 1,28,28 of positive sizes, not too large."""
    import argparse
    try:
        shape = tuple(int(v) for v in text.replace("x", ",").split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"must look like 1,28,28, got {text!r}") from None
    if not shape or len(shape) > 4 or min(shape) < 1:
        raise argparse.ArgumentTypeError(f"must be 1 to 4 sizes >= 1 like 1,28,28, got "
                                         f"{text!r}")
    n = 1
    for d in shape:
        n *= d
    if n > MAX_INPUT_ELEMENTS:
        raise argparse.ArgumentTypeError(f"one input of shape {shape} has {n:,} numbers, "
                                         f"over the limit of {MAX_INPUT_ELEMENTS:,}")
    return shape


def _add_train(sub):
    p = sub.add_parser("train", help="train a zoo model on MNIST or Fashion-MNIST",
                       description="Train a zoo model. With no arguments: the default MLP on "
                                   "MNIST for 5 epochs, into runs/mlp-mnist.")
    p.add_argument("--config", metavar="FILE.toml", help="read settings from a TOML file "
                   "(flags given on the command line win)")
    _setting(p, "model", "zoo model name (see `ournn summary --list`)")
    _setting(p, "dataset")
    _setting(p, "epochs")
    _setting(p, "batch_size")
    _setting(p, "optimizer")
    _setting(p, "lr", "learning rate (peak rate for onecycle)")
    _setting(p, "weight_decay")
    _setting(p, "momentum")
    _setting(p, "schedule")
    _setting(p, "warmup_epochs")
    _setting(p, "augment")
    _setting(p, "label_smoothing")
    _setting(p, "val_split", "hold out the last N training images for validation (default "
             "0: validate on the test set)")
    _setting(p, "limit", "use only the first N training and test images (quick trials; 0: "
             "all)")
    _setting(p, "seed")
    _setting(p, "out", "run folder (default runs/MODEL-DATASET)")
    _setting(p, "data_dir", "folder with the dataset files")
    p.add_argument("--resume", action="store_true",
                   help="continue from OUT/last.ckpt (same seed: same result); settings that "
                        "differ from the saved run are refused unless --override")
    p.add_argument("--override", action="store_true",
                   help="with --resume: continue with the lr, weight decay, momentum, label "
                        "smoothing or augmentation given now instead of the saved ones")
    _setting(p, "verbose", "0 silent, 1 progress bar, 2 one line per epoch (default: bar on a "
             "terminal)")
    _setting(p, "model_kwargs", "arguments of the zoo model as a JSON object, e.g. "
             "'{\"width\": 32, \"dropout\": 0.2}' for cnn", metavar="JSON")
    _setting(p, "tensorboard", "write TensorBoard event files into this folder: loss, metrics "
             "and lr per step and epoch, weight and gradient histograms per epoch (needs: pip "
             "install 'ournn[tensorboard]')", metavar="DIR")
    _setting(p, "seq_len", "language models: characters per chunk of truncated BPTT "
             "(default 100)")
    _setting(p, "device", "train on the CPU or on an NVIDIA GPU (needs CuPy: pip install "
             "cupy-cuda12x for CUDA 12); default cpu")


def _add_tune(sub):
    p = sub.add_parser("tune", help="hyperparameter search: many short runs, one table",
                       description="Random or grid search over a space of hyperparameters. "
                                   "Each trial trains briefly and is validated on held-out "
                                   "training images (never the test set); results.csv, "
                                   "results.json and scatter.png go into the study folder and "
                                   "the best configuration is printed as an `ournn train` "
                                   "command.")
    _setting(p, "model", "zoo model name (default mlp)")
    _setting(p, "dataset", "(default mnist)")
    _setting(p, "optimizer", "fixed optimizer of every trial (default adam)")
    p.add_argument("--search", choices=("random", "grid"), default="random")
    p.add_argument("--space", metavar="FILE.toml",
                   help="the search space: a [space] table, e.g. lr = {loguniform = [1e-4, "
                        "1e-2]}, batch_size = {choice = [64, 128]}, width = [16, 32] (grid "
                        "values); an optional [train] table fixes settings. Default: a space "
                        "for the model")
    _setting(p, "trials", "random search: how many trials (default 8)", setting=TRIALS)
    _setting(p, "epochs", "epochs per trial (default 1)")
    _setting(p, "limit", "first N training images per trial (default 5000; 0: all)")
    _setting(p, "val_split", "the last N of those validate each trial (default 1000)")
    _setting(p, "workers", "trials at once, in processes", setting=WORKERS, default=1)
    _setting(p, "seed", "draws the trials and seeds training", default=0)
    _setting(p, "out", "study folder (default runs/tune-MODEL-DATASET)")
    _setting(p, "data_dir", "folder with the dataset files")


def _add_eval(sub):
    p = sub.add_parser("eval", help="evaluate a checkpoint on a test set")
    p.add_argument("--ckpt", required=True, help="a checkpoint (last.ckpt, best.ckpt or a "
                   "saved model)")
    _setting(p, "dataset", "(default: the checkpoint's)")
    _setting(p, "data_dir")
    p.add_argument("--split", choices=("test", "train"), default="test")
    _setting(p, "batch_size", default=1000)


def _add_predict(sub):
    p = sub.add_parser("predict", help="classify image files (PNG, JPEG...) with a checkpoint")
    p.add_argument("--ckpt", required=True)
    p.add_argument("images", nargs="+", metavar="IMAGE_OR_DIR")
    _setting(p, "top", "show the K most likely classes", setting=TOP, default=1)
    p.add_argument("--json", action="store_true", help="print JSON lines")


def _add_summary(sub):
    p = sub.add_parser("summary", help="layers, output shapes and parameter counts of a model")
    p.add_argument("--model", help="zoo model name")
    p.add_argument("--ckpt", help="or a checkpoint")
    p.add_argument("--input", type=_shape, help="input shape without the batch, e.g. "
                   "1,28,28 (default: the checkpoint's, else 1,28,28)")
    p.add_argument("--list", action="store_true", help="list the zoo models")
    p.add_argument("--graph", metavar="PATH", help="also draw the network as a graph: .dot, "
                   ".svg or .png (Graphviz if installed, else our own layout)")


def _add_generate(sub):
    p = sub.add_parser("generate", help="sample text from a character language model",
                       description="Sample text from a checkpoint of `ournn train --model "
                                   "charlstm --dataset shakespeare`: the prompt, then LENGTH "
                                   "characters drawn one at a time. The same --seed gives "
                                   "the same text.")
    p.add_argument("--ckpt", required=True, help="a checkpoint (RUN/best.ckpt or last.ckpt)")
    p.add_argument("--prompt", default="\n", type=_prompt,
                   help="text to start from (default: a newline)")
    _setting(p, "length", "characters to generate", setting=LENGTH, default=500)
    _setting(p, "temperature", "divides the logits: lower is more conservative, 0 always "
             "picks the most likely character", setting=TEMPERATURE, default=0.8)
    _setting(p, "top_k", "sample among the K most likely characters only (0: all)",
             setting=TOP_K, default=0)
    _setting(p, "seed", "seed of the sampling (same seed, same text)", default=0)


def _prompt(text):
    """argparse type for --prompt: non-empty, not too long."""
    import argparse
    if not text:
        raise argparse.ArgumentTypeError("must be at least one character")
    if len(text) > MAX_PROMPT:
        raise argparse.ArgumentTypeError(f"must be at most {MAX_PROMPT:,} characters, got "
                                         f"{len(text):,}")
    return text


EXPORT_FORMATS = {".safetensors": "safetensors", ".onnx": "onnx"}
OPSET = Setting("int", None, 13, 30, flag="--opset")
OPSET.name = "opset"


def _add_export(sub):
    p = sub.add_parser("export", help="write a checkpoint's model as safetensors (weights) or "
                       "ONNX (graph and weights)",
                       description="Write the model of a checkpoint for other tools: "
                                   "--format safetensors writes its weights alone (a state "
                                   "dict with PyTorch's keys and layouts: "
                                   "model.load_state_dict(safetensors.torch.load_file(OUT))); "
                                   "--format onnx writes the graph and the weights for "
                                   "onnxruntime and other ONNX runtimes (needs: pip install "
                                   "'ournn[onnx]'). The format defaults to OUT's extension.")
    p.add_argument("--ckpt", required=True, help="a checkpoint (RUN/best.ckpt, last.ckpt or "
                   "a saved model)")
    p.add_argument("--format", choices=sorted(set(EXPORT_FORMATS.values())),
                   help="safetensors or onnx (default: from OUT's extension)")
    p.add_argument("--input", type=_shape, help="onnx: the input shape without the batch, "
                   "e.g. 1,28,28 (default: the checkpoint's)")
    _setting(p, "opset", "onnx: the opset version (default: the exporter's)", setting=OPSET)
    p.add_argument("output", metavar="OUT", help="the file to write (.safetensors or .onnx)")


def _add_studio(sub):
    p = sub.add_parser("studio", help="build, train and watch networks in the browser "
                       "(needs: pip install 'ournn[studio]')")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default "
                   "127.0.0.1: this machine only)")
    _setting(p, "port", setting=PORT, default=8765)
    p.add_argument("--no-browser", action="store_true", help="do not open a browser")
    p.add_argument("--workdir", default="studio-runs", help="folder for run checkpoints and "
                   "saved models (default: ./studio-runs)")
    p.add_argument("--data-dir", help="where MNIST/Fashion-MNIST are (default: the usual "
                   "search: $OURNN_DATA, the cache...)")


class _Parser(argparse.ArgumentParser):
    """Usage errors in one line (``ournn train: error: argument --lr: ...``), exit 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser():
    parser = _Parser(
        prog="ournn", description="ournn: deep learning on NumPy with PyTorch's names.")
    parser.add_argument("--version", action="version", version=f"ournn {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_train(sub)
    _add_eval(sub)
    _add_predict(sub)
    _add_summary(sub)
    _add_tune(sub)
    _add_studio(sub)
    _add_generate(sub)
    _add_export(sub)
    return parser


def _read_toml(path):
    """The [train] table of a TOML file (or the whole file), its keys checked against the
    same SETTINGS as the flags (usage error naming the file and the key)."""
    from .io import read_toml
    from .train.settings import check_config
    try:
        data = read_toml(path)
    except OSError as e:
        raise _UsageError(f"--config {path}: cannot read it ({e.strerror or e})") from None
    except ValueError as e:
        raise _UsageError(f"--config {path}: not valid TOML ({e})") from None
    table = data.get("train", data)
    if not isinstance(table, dict):
        raise _UsageError(f"--config {path}: [train] must be a table of settings, got "
                          f"{type(table).__name__}")
    config = {str(k).replace("-", "_"): v for k, v in table.items()}
    check_config(config, source=path)
    return config


def cmd_train(args):
    from .train.recipe import run_training
    if args.override and not args.resume:
        raise _UsageError("--override only applies with --resume")
    config = _read_toml(args.config) if args.config else {}
    config.update({k: getattr(args, k) for k in SETTINGS if getattr(args, k) is not None})
    result = run_training(config, resume=args.resume, override=args.override)
    test, out = result["test"], result["out"]
    if result["results"]["interrupted"]:
        print(f"Stopped. Checkpoint saved to {os.path.join(out, 'last.ckpt')}; continue with: "
              f"ournn train --out {out} --resume")
        return 130
    if "bits" in test:          # a language model: its validation loss per character
        shown = ("no epoch finished" if test["loss"] is None else
                 f"{test['loss']:.4f} nats/char ({test['bits']:.4f} bits/char)")
        print(f"Validation loss {shown}  run folder: {out}  (sample: ournn generate --ckpt "
              f"{os.path.join(out, 'best.ckpt')})")
        return 0
    from .train.distributed import is_main
    if is_main():           # under mpirun: one line for the job, from rank 0
        print(f"Test accuracy {100 * test['accuracy']:.2f}%  (loss {test['loss']:.4f})  "
              f"run folder: {out}")
    return 0


def cmd_eval(args):
    from .train.loop import evaluate
    from .train.checkpoints import expected_data, load_model, require_images
    from .train.recipe import load_dataset
    model, meta = load_model(args.ckpt)
    require_images(meta, "eval", args.ckpt)
    dataset = args.dataset or SETTINGS["dataset"].check(expected_data(meta)[0] or "mnist")
    x, y, tx, ty, _ = load_dataset(dataset, args.data_dir)
    data = (tx, ty) if args.split == "test" else (x, y)
    if len(data[1]) == 0:
        raise ValueError(f"the {dataset} {args.split} set is empty: nothing to evaluate")
    result = evaluate(model, data, batch_size=args.batch_size)
    print(f"{dataset} {args.split}: accuracy {100 * result['accuracy']:.2f}%  loss "
          f"{result['loss']:.4f}  ({len(data[1])} images)")
    return 0


def cmd_predict(args):
    import numpy as np

    from .data.images import find_images, load_image
    from .errors import CheckpointError
    from .ops.activation import softmax_array
    from .train.checkpoints import load_model, require_images
    model, meta = load_model(args.ckpt)
    require_images(meta, "predict", args.ckpt)
    files = find_images(args.images)
    if not files:
        raise ValueError("no image files found in " + " ".join(args.images))
    images, failed = {}, {}
    for f in files:            # one unreadable image is reported on its line, not fatal
        try:
            images[f] = load_image(f)
        except Exception as e:  # noqa: BLE001 - any failure of one file is that file's
            if args.debug:
                raise
            failed[f] = str(e) if str(e).startswith(f) else f"{f}: {e}"
    probs = {}
    if images:
        out = softmax_array(np.asarray(model.predict(np.stack(list(images.values()))[:, None])),
                            axis=1)
        probs = dict(zip(images, out))
        n_out = out.shape[1]
        classes = meta.get("classes") or [str(i) for i in range(n_out)]
        if len(classes) != n_out:
            raise CheckpointError(f"{args.ckpt}: field classes: names {len(classes)} classes "
                                  f"but the model gives {n_out} outputs")
        if args.top > n_out:
            raise _UsageError(f"argument --top: must be from 1 to {n_out} (the model's "
                              f"classes), got {args.top}")
    for f in files:
        if f in failed:
            if args.json:
                print(json.dumps({"file": f, "error": failed[f]}))
            else:
                print(f"{f}: error: {failed[f][len(f) + 2:] if failed[f].startswith(f + ': ') else failed[f]}")
            continue
        p = probs[f]
        order = np.argsort(-p)[:args.top]
        if args.json:
            print(json.dumps({"file": f, "predictions": [
                {"class": int(i), "label": classes[i], "probability": float(p[i])}
                for i in order]}))
        else:
            shown = ", ".join(f"{classes[i]} ({100 * p[i]:.1f}%)" for i in order)
            print(f"{f}: {shown}")
    if failed:
        print(f"ournn predict: error: {len(failed)} of {len(files)} image(s) could not be "
              "read (see their lines)", file=sys.stderr)
        return 1
    return 0


def cmd_summary(args):
    from .models import get_model, list_models
    from .viz.summary import summary
    if args.list:
        print("\n".join(list_models()))
        return 0
    shape = args.input
    if args.ckpt:
        from .train.checkpoints import load_model
        model, meta = load_model(args.ckpt)
        if shape is None and meta.get("input_shape"):
            shape = tuple(meta["input_shape"])      # what the checkpoint was trained on
    elif args.model:
        model = get_model(args.model)
    else:
        raise _UsageError("summary: give --model NAME, --ckpt PATH or --list")
    shape = shape or (1, 28, 28)
    summary(model, shape)
    if args.graph:
        from .viz.graph import draw_model
        draw_model(model, shape, args.graph)
        print(f"graph written to {args.graph}")
    return 0


def cmd_tune(args):
    from . import tune
    space, base = tune.load_space(args.space) if args.space else (None, {})
    base.update({k: getattr(args, k) for k in ("model", "dataset", "optimizer", "data_dir")
                 if getattr(args, k) is not None})
    budget = {k: base.pop(k) for k in ("epochs", "limit", "val_split") if k in base}
    budget.update({k: getattr(args, k) for k in ("epochs", "limit", "val_split")
                   if getattr(args, k) is not None})
    base.setdefault("model", "mlp")
    base.setdefault("seed", args.seed)
    space = space or tune.default_space(base["model"], args.search)
    common = {"base_config": base, "workers": args.workers, "budget": budget,
              "out": args.out, "stream": sys.stdout}
    if args.search == "grid":
        if args.trials is not None:
            print("grid search: --trials ignored (every grid point is a trial)")
        study = tune.grid_search(space, **common)
    else:
        study = tune.random_search(space, args.trials or 8, seed=args.seed, **common)
    tune.print_summary(study)
    if study.best is None:
        first = next((r["error"] for r in study.records if r["error"]), "")
        raise RuntimeError(f"all {len(study.records)} trials failed (first: {first}); see "
                           f"{os.path.join(study.out, 'results.csv')}")
    return 0


def _check_port_free(host, port):
    """Bind ``host:port`` once before the server does: a host that is not an address of
    this machine is a usage error, a port in use (or forbidden) an error, each one line."""
    import errno
    import socket
    try:
        family, kind, proto, _, addr = socket.getaddrinfo(host, port,
                                                          type=socket.SOCK_STREAM)[0]
    except (socket.gaierror, UnicodeError) as e:
        raise _UsageError(f"argument --host: cannot resolve {host!r} "
                          f"({getattr(e, 'strerror', None) or e})") from None
    with socket.socket(family, kind, proto) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(addr)
        except OSError as e:
            if e.errno == errno.EADDRNOTAVAIL:
                raise _UsageError(f"argument --host: {host!r} is not an address of this "
                                  "machine") from None
            if e.errno == errno.EADDRINUSE:
                raise RuntimeError(f"port {port} on {host} is already in use (another studio?"
                                   "); choose another with --port") from None
            raise RuntimeError(f"cannot listen on {host}:{port} ({e.strerror})") from None


def cmd_studio(args):
    from .studio import serve
    _check_port_free(args.host, args.port)
    return serve(args.host, args.port, open_browser=not args.no_browser, workdir=args.workdir,
                 data_dir=args.data_dir)


def cmd_generate(args):
    from .train.sequence import load_language_model, sample
    model, vocab, _ = load_language_model(args.ckpt)
    if args.top_k > len(vocab):
        raise _UsageError(f"argument --top-k: must be from 0 to {len(vocab)} (the model's "
                          f"characters), got {args.top_k}")
    try:
        vocab.encode(args.prompt, unknown="error")
    except ValueError as e:
        raise _UsageError(f"argument --prompt: {e}") from None
    text = sample(model, vocab, args.prompt, args.length, args.temperature, seed=args.seed,
                  top_k=args.top_k or None)
    sys.stdout.write(text + "\n")
    return 0


def _export_format(args):
    """The format asked for: --format, else OUT's extension; a mismatch is a usage error."""
    ext = os.path.splitext(args.output)[1].lower()
    implied = EXPORT_FORMATS.get(ext)
    if args.format is None:
        if implied is None:
            raise _UsageError(f"give --format safetensors or onnx (the extension of "
                              f"{args.output!r} does not say which)")
        return implied
    if implied is not None and implied != args.format:
        raise _UsageError(f"--format {args.format} but {args.output!r} has the extension of "
                          f"{implied}; name the file {os.path.splitext(args.output)[0]}"
                          f"{'.onnx' if args.format == 'onnx' else '.safetensors'}")
    return args.format


def cmd_export(args):
    from .errors import CheckpointError
    from .files import atomic_write, check_save_path
    from .train.checkpoints import load_model
    fmt = _export_format(args)
    if fmt == "safetensors" and (args.input is not None or args.opset is not None):
        raise _UsageError("--input and --opset apply to --format onnx only")
    try:
        out = check_save_path(args.output)
    except CheckpointError as e:
        raise _UsageError(f"OUT: {e}") from None
    model, meta = load_model(args.ckpt)
    if fmt == "safetensors":
        from .io.safetensors import save_file
        state = model.state_dict()
        save_file(state, out, metadata={"format": "pt"})
        n = sum(int(v.numel()) for v in state.values())
        print(f"wrote {out}: {len(state)} tensors, {n:,} numbers (load in PyTorch: "
              f"model.load_state_dict(safetensors.torch.load_file({out!r})))")
        return 0
    try:
        from .onnx import export
    except ImportError as e:
        raise RuntimeError(f"ONNX export is not available ({e})") from None
    shape = args.input or (tuple(meta["input_shape"]) if meta.get("input_shape") else None)
    if shape is None:
        raise _UsageError(f"the checkpoint {args.ckpt} does not say its input shape: give "
                          "--input, e.g. --input 1,28,28")
    import numpy as np

    from .tensor import Tensor
    example = Tensor._make(np.zeros((1, *shape), dtype=np.float32))
    atomic_write(out, lambda f: export(model, example, f, opset_version=args.opset))
    print(f"wrote {out}: ONNX graph for inputs of shape (batch, "
          f"{', '.join(map(str, shape))})")
    return 0


class _UsageError(Exception):
    """A bad command-line value found after parsing (exit 2)."""


COMMANDS = {"train": cmd_train, "eval": cmd_eval, "predict": cmd_predict,
            "summary": cmd_summary, "tune": cmd_tune, "studio": cmd_studio,
            "generate": cmd_generate, "export": cmd_export}


def main(argv=None):
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return COMMANDS[args.command](args)
    except (_UsageError, SettingError) as e:
        parser.exit(2, f"ournn {args.command}: error: {e}\n")
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # one line for users; --debug for the traceback
        if args.debug:
            raise
        print(f"ournn {args.command}: error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
