"""Hyperparameter search: which learning rate, batch size, hidden layer and dropout suit an MLP
on MNIST? Six one-epoch trials on a 3,000-image slice, each validated on held-out training
images (the last 1,000: the test set is never used to choose). About half a minute on two
cores.

Run: python examples/hyperparameter_search.py [--trials 6] [--limit 3000] [--workers 2]
Then: open runs/tune-example/scatter.png, and train the winner with the printed command.
"""
import argparse
import sys

from ournn.tune import Choice, LogUniform, Uniform, print_summary, random_search

SPACE = {
    "lr": LogUniform(1e-4, 1e-2),            # every decade equally likely
    "batch_size": Choice([32, 64, 128]),
    "hidden": Choice([[128], [256], [512, 256]]),   # a model argument of mlp
    "dropout": Uniform(0.0, 0.5),                   # so is this one
}


def main(trials=6, limit=3000, epochs=1, workers=1, out="runs/tune-example", seed=0):
    """Run the search and print its table and the best ``ournn train`` command; returns the
    ``Study`` (``study.best``, ``study.records``, ``study.best_command()``)."""
    study = random_search(SPACE, trials, base_config={"model": "mlp", "dataset": "mnist"},
                          seed=seed, workers=workers, out=out, stream=sys.stdout,
                          budget={"epochs": epochs, "limit": limit,
                                  "val_split": max(1, limit // 3)})
    print_summary(study)
    return study


if __name__ == "__main__":   # needed: worker processes re-import this file with "spawn"
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=6)
    parser.add_argument("--limit", type=int, default=3000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--out", default="runs/tune-example")
    args = parser.parse_args()
    main(trials=args.trials, limit=args.limit, workers=args.workers, out=args.out)
