"""The ``ournn`` command line: parses arguments and calls the library (``ournn.train.run``,
``ournn.viz``). Exit codes: 0 success, 2 bad usage, 1 any other error (one line, no
traceback unless ``--debug``), 130 interrupted."""
import argparse
import json
import os
import sys

from . import __version__


def _add_train(sub):
    p = sub.add_parser("train", help="train a zoo model on MNIST or Fashion-MNIST",
                       description="Train a zoo model. With no arguments: the default MLP on "
                                   "MNIST for 5 epochs, into runs/mlp-mnist.")
    p.add_argument("--config", metavar="FILE.toml", help="read settings from a TOML file "
                   "(flags given on the command line win)")
    p.add_argument("--model", help="zoo model name (see `ournn summary --list`)")
    p.add_argument("--dataset", help="mnist or fashion-mnist")
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch-size", type=int, dest="batch_size")
    p.add_argument("--optimizer", help="sgd, momentum, nesterov, adam, adamw, adagrad, rmsprop")
    p.add_argument("--lr", type=float, help="learning rate (peak rate for onecycle)")
    p.add_argument("--weight-decay", type=float, dest="weight_decay")
    p.add_argument("--momentum", type=float)
    p.add_argument("--schedule", help="none, cosine, onecycle or step")
    p.add_argument("--warmup-epochs", type=int, dest="warmup_epochs")
    p.add_argument("--augment", help="none, shift or affine")
    p.add_argument("--label-smoothing", type=float, dest="label_smoothing")
    p.add_argument("--val-split", type=int, dest="val_split",
                   help="hold out the last N training images for validation (default: "
                        "validate on the test set)")
    p.add_argument("--limit", type=int, help="use only the first N training and test images "
                   "(quick trials)")
    p.add_argument("--seed", type=int)
    p.add_argument("--out", help="run folder (default runs/MODEL-DATASET)")
    p.add_argument("--data-dir", dest="data_dir", help="folder with the dataset files")
    p.add_argument("--resume", action="store_true",
                   help="continue from OUT/last.ckpt (same seed: same result)")
    p.add_argument("--verbose", type=int, choices=(0, 1, 2),
                   help="0 silent, 1 progress bar, 2 one line per epoch (default: bar on a "
                        "terminal)")
    p.add_argument("--model-kwargs", type=_json_object, dest="model_kwargs", metavar="JSON",
                   help="arguments of the zoo model as a JSON object, e.g. "
                        "'{\"width\": 32, \"dropout\": 0.2}' for cnn")


def _json_object(text):
    """argparse type: a JSON object (dict); anything else is a usage error."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise argparse.ArgumentTypeError(f"not valid JSON ({e.msg}): {text!r}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"expected a JSON object like '{{\"width\": 32}}', "
                                         f"got {text!r}")
    return value


def _add_tune(sub):
    p = sub.add_parser("tune", help="hyperparameter search: many short runs, one table",
                       description="Random or grid search over a space of hyperparameters. "
                                   "Each trial trains briefly and is validated on held-out "
                                   "training images (never the test set); results.csv, "
                                   "results.json and scatter.png go into the study folder and "
                                   "the best configuration is printed as an `ournn train` "
                                   "command.")
    p.add_argument("--model", help="zoo model name (default mlp)")
    p.add_argument("--dataset", help="mnist or fashion-mnist (default mnist)")
    p.add_argument("--optimizer", help="fixed optimizer of every trial (default adam)")
    p.add_argument("--search", choices=("random", "grid"), default="random")
    p.add_argument("--space", metavar="FILE.toml",
                   help="the search space: a [space] table, e.g. lr = {loguniform = [1e-4, "
                        "1e-2]}, batch_size = {choice = [64, 128]}, width = [16, 32] (grid "
                        "values); an optional [train] table fixes settings. Default: a space "
                        "for the model")
    p.add_argument("--trials", type=int, help="random search: how many trials (default 8)")
    p.add_argument("--epochs", type=int, help="epochs per trial (default 1)")
    p.add_argument("--limit", type=int, help="first N training images per trial (default "
                   "5000; 0: all)")
    p.add_argument("--val-split", type=int, dest="val_split", help="the last N of those "
                   "validate each trial (default 1000)")
    p.add_argument("--workers", type=int, default=1, help="trials at once, in processes")
    p.add_argument("--seed", type=int, default=0, help="draws the trials and seeds training")
    p.add_argument("--out", help="study folder (default runs/tune-MODEL-DATASET)")
    p.add_argument("--data-dir", dest="data_dir", help="folder with the dataset files")


def _add_eval(sub):
    p = sub.add_parser("eval", help="evaluate a checkpoint on a test set")
    p.add_argument("--ckpt", required=True, help="a checkpoint (last.ckpt, best.ckpt or a "
                   "saved model)")
    p.add_argument("--dataset", help="mnist or fashion-mnist (default: the checkpoint's)")
    p.add_argument("--data-dir", dest="data_dir")
    p.add_argument("--split", choices=("test", "train"), default="test")
    p.add_argument("--batch-size", type=int, default=1000, dest="batch_size")


def _add_predict(sub):
    p = sub.add_parser("predict", help="classify image files (PNG, JPEG...) with a checkpoint")
    p.add_argument("--ckpt", required=True)
    p.add_argument("images", nargs="+", metavar="IMAGE_OR_DIR")
    p.add_argument("--top", type=int, default=1, help="show the K most likely classes")
    p.add_argument("--json", action="store_true", help="print JSON lines")


def _add_summary(sub):
    p = sub.add_parser("summary", help="layers, output shapes and parameter counts of a model")
    p.add_argument("--model", help="zoo model name")
    p.add_argument("--ckpt", help="or a checkpoint")
    p.add_argument("--input", default="1,28,28", help="input shape without the batch, e.g. "
                   "1,28,28")
    p.add_argument("--list", action="store_true", help="list the zoo models")
    p.add_argument("--graph", metavar="PATH", help="also draw the network as a graph: .dot, "
                   ".svg or .png (Graphviz if installed, else our own layout)")


def _add_studio(sub):
    p = sub.add_parser("studio", help="build, train and watch networks in the browser "
                       "(needs: pip install 'ournn[studio]')")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default "
                   "127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8765)
    p.add_argument("--no-browser", action="store_true", help="do not open a browser")
    p.add_argument("--workdir", default="studio-runs", help="folder for run checkpoints and "
                   "saved models (default: ./studio-runs)")
    p.add_argument("--data-dir", help="where MNIST/Fashion-MNIST are (default: the usual "
                   "search: $OURNN_DATA, the cache...)")


def build_parser():
    parser = argparse.ArgumentParser(
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
    return parser


def _read_toml(path):
    from .io import read_toml
    data = read_toml(path)
    return {k.replace("-", "_"): v for k, v in data.get("train", data).items()}


def cmd_train(args):
    from .train.run import run_training
    keys = ("model", "dataset", "epochs", "batch_size", "optimizer", "lr", "weight_decay",
            "momentum", "schedule", "warmup_epochs", "augment", "label_smoothing", "val_split",
            "seed", "out", "data_dir", "verbose", "limit", "model_kwargs")
    config = _read_toml(args.config) if args.config else {}
    config.update({k: getattr(args, k) for k in keys if getattr(args, k) is not None})
    result = run_training(config, resume=args.resume)
    test, out = result["test"], result["out"]
    if result["results"]["interrupted"]:
        print(f"Stopped. Checkpoint saved to {os.path.join(out, 'last.ckpt')}; continue with: "
              f"ournn train --out {out} --resume")
        return 130
    print(f"Test accuracy {100 * test['accuracy']:.2f}%  (loss {test['loss']:.4f})  "
          f"run folder: {out}")
    return 0


def cmd_eval(args):
    from .train.loop import evaluate
    from .train.run import load_dataset, load_model
    model, meta = load_model(args.ckpt)
    dataset = args.dataset or meta.get("dataset") or "mnist"
    x, y, tx, ty, _ = load_dataset(dataset.lower(), args.data_dir)
    data = (tx, ty) if args.split == "test" else (x, y)
    result = evaluate(model, data, batch_size=args.batch_size)
    print(f"{dataset} {args.split}: accuracy {100 * result['accuracy']:.2f}%  loss "
          f"{result['loss']:.4f}  ({len(data[1])} images)")
    return 0


def cmd_predict(args):
    import numpy as np

    from .data.images import find_images, load_image
    from .ops.activation import softmax_array
    from .train.run import load_model
    model, meta = load_model(args.ckpt)
    classes = meta.get("classes") or [str(i) for i in range(10)]
    files = find_images(args.images)
    if not files:
        raise ValueError("no image files found in " + " ".join(args.images))
    batch = np.stack([load_image(f) for f in files])[:, None]
    probs = softmax_array(model.predict(batch), axis=1)
    for f, p in zip(files, probs):
        order = np.argsort(-p)[:max(1, args.top)]
        if args.json:
            print(json.dumps({"file": f, "predictions": [
                {"class": int(i), "label": classes[i], "probability": float(p[i])}
                for i in order]}))
        else:
            shown = ", ".join(f"{classes[i]} ({100 * p[i]:.1f}%)" for i in order)
            print(f"{f}: {shown}")
    return 0


def cmd_summary(args):
    from .models import get_model, list_models
    from .viz.summary import summary
    if args.list:
        print("\n".join(list_models()))
        return 0
    if args.ckpt:
        from .train.run import load_model
        model, _ = load_model(args.ckpt)
    elif args.model:
        model = get_model(args.model)
    else:
        raise _UsageError("summary: give --model NAME, --ckpt PATH or --list")
    try:
        shape = tuple(int(s) for s in args.input.replace("x", ",").split(",") if s.strip())
    except ValueError:
        raise _UsageError(f"--input must look like 1,28,28, got {args.input!r}") from None
    summary(model, shape)
    if args.graph:
        from .viz.graph import draw_model
        draw_model(model, shape, args.graph)
        print(f"graph written to {args.graph}")
    return 0


def cmd_tune(args):
    from . import tune
    if args.workers < 1:
        raise _UsageError(f"--workers must be >= 1, got {args.workers}")
    if args.trials is not None and args.trials < 1:
        raise _UsageError(f"--trials must be >= 1, got {args.trials}")
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


class _UsageError(Exception):
    pass


def cmd_studio(args):
    from .studio import serve
    return serve(args.host, args.port, open_browser=not args.no_browser, workdir=args.workdir,
                 data_dir=args.data_dir)


COMMANDS = {"train": cmd_train, "eval": cmd_eval, "predict": cmd_predict,
            "summary": cmd_summary, "tune": cmd_tune, "studio": cmd_studio}


def main(argv=None):
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return COMMANDS[args.command](args)
    except _UsageError as e:
        parser.error(str(e))
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
