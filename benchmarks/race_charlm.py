"""The character language model race: ournn and PyTorch train the same model on Shakespeare for
the same wall time, one after the other, and the validation loss is compared.

Both start from the same weights (ournn's initialisation copied into torch), read the same
batches (``ournn.data.ChunkLoader`` over the standard training split: contiguous streams,
truncated BPTT with the state carried and detached), and use the same optimizer (Adam,
gradient norm clipped at 5). Only training steps count towards the budget: every
``--eval-every`` seconds of training, the loss on the first ``--valid-chars`` characters of
the validation split is measured (state carried across its chunks) and the clock is paused.

    python benchmarks/race_charlm.py --minutes 20 --out race.json --plot race.png

Prints one JSON object per evaluation, then a summary line per framework; ``--plot`` draws both
curves (bits per character against training seconds).
"""
import argparse
import json
import math
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "src"))

import ournn  # noqa: E402
from ournn.data import ChunkLoader, Shakespeare  # noqa: E402


def ournn_side(model, lr):
    import ournn.nn.functional as F
    opt = ournn.optim.Adam(model.parameters(), lr=lr)
    params = list(model.parameters())

    def step(x, y, hidden):
        logits, hidden = model(ournn.Tensor._make(x), hidden)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                               ournn.Tensor._make(y.reshape(-1)))
        opt.zero_grad()
        loss.backward()
        ournn.nn.utils.clip_grad_norm_(params, 5.0)
        opt.step()
        return float(loss.item()), tuple(h.detach() for h in hidden)

    def evaluate(loader):
        total, count, hidden = 0.0, 0, None
        with ournn.no_grad():
            for x, y in loader:
                logits, hidden = model(ournn.Tensor._make(x.numpy() if hasattr(x, "numpy")
                                                          else x), hidden)
                loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                       ournn.Tensor._make(np.asarray(y).reshape(-1)),
                                       reduction="sum")
                total += float(loss.item())
                count += np.asarray(y).size
        return total / count

    return step, evaluate


def torch_side(initial, vocab, embed, hidden_size, lr):
    import torch
    import torch.nn as nn

    class CharLSTM(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(vocab, embed)
            self.lstm = nn.LSTM(embed, hidden_size, batch_first=True)
            self.drop = nn.Dropout(0.0)
            self.head = nn.Linear(hidden_size, vocab)

        def forward(self, x, hidden=None):
            out, hidden = self.lstm(self.embed(x), hidden)
            return self.head(self.drop(out)), hidden

    model = CharLSTM()
    model.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in initial.items()},
                          strict=True)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    F = torch.nn.functional

    def step(x, y, hidden):
        logits, hidden = model(torch.from_numpy(x), hidden)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                               torch.from_numpy(y.reshape(-1)))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        return float(loss.item()), tuple(h.detach() for h in hidden)

    def evaluate(loader):
        total, count, hidden = 0.0, 0, None
        with torch.no_grad():
            for x, y in loader:
                x, y = np.array(x), np.array(y)
                logits, hidden = model(torch.from_numpy(x), hidden)
                total += float(F.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                               torch.from_numpy(y.reshape(-1)),
                                               reduction="sum"))
                count += y.size
        return total / count

    return step, evaluate


def race(name, step, evaluate, train, valid, args):
    """Train for ``args.minutes`` of training time; evaluate every ``args.eval_every`` s."""
    budget = 60.0 * args.minutes
    loader = ChunkLoader(train.data, batch_size=args.batch_size, seq_len=args.seq_len,
                         drop_last=True)
    trained, steps, chars, next_eval = 0.0, 0, 0, 0.0
    curve, hidden = [], None
    while True:
        for x, y in loader:
            if loader.new_epoch:
                hidden = None
            if trained >= next_eval:
                nats = evaluate(ChunkLoader(valid.data[:args.valid_chars],
                                            batch_size=args.batch_size,
                                            seq_len=args.seq_len, drop_last=True))
                point = {"framework": name, "train_s": round(trained, 2), "steps": steps,
                         "chars": chars, "valid_nats": round(nats, 5),
                         "valid_bits": round(nats / math.log(2), 5)}
                curve.append(point)
                print(json.dumps(point), flush=True)
                next_eval += args.eval_every
                if trained >= budget:
                    return curve
            x, y = np.array(x), np.array(y)        # writable copies (torch refuses others)
            t0 = time.perf_counter()
            _, hidden = step(x, y, hidden)
            trained += time.perf_counter() - t0
            steps += 1
            chars += x.size
            if trained >= budget:
                next_eval = trained          # one last evaluation at the end of the budget


def plot(curves, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    later = [p["valid_bits"] for c in curves.values() for p in c if p["train_s"] > 0]
    for name, curve in curves.items():
        ax.plot([p["train_s"] / 60 for p in curve], [p["valid_bits"] for p in curve],
                marker="o", ms=3, label=name)
    if later:       # the untrained start (~6.4 bits) would flatten the part that matters
        ax.set_ylim(min(later) - 0.05, max(later) + 0.1)
    ax.set_xlabel("training time (minutes)")
    ax.set_ylabel("validation loss (bits per character)")
    ax.set_title("Character LSTM on Shakespeare, same model, same batches")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--minutes", type=float, default=20.0, help="training time per framework")
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--embed", type=int, default=64)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--seq-len", type=int, default=100)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--eval-every", type=float, default=60.0, help="seconds of training")
    p.add_argument("--valid-chars", type=int, default=100_000)
    p.add_argument("--frameworks", default="ournn,torch")
    p.add_argument("--out", help="write the curves as JSON here")
    p.add_argument("--plot", help="draw both curves here (PNG)")
    p.add_argument("--replot", metavar="JSON", help="only draw --plot from a saved --out file")
    args = p.parse_args(argv)
    if args.replot:
        with open(args.replot) as f:
            plot(json.load(f)["curves"], args.plot)
        return

    train, valid = Shakespeare("train"), Shakespeare("valid")
    vocab = len(train.itos)
    ournn.manual_seed(0)
    model = ournn.models.get_model("charlstm", vocab_size=vocab, embed_dim=args.embed,
                                   hidden_size=args.hidden)
    initial = {k: v.numpy().copy() for k, v in model.state_dict().items()}   # before training
    curves = {}
    for name in args.frameworks.split(","):
        if name == "ournn":
            step, evaluate = ournn_side(model, args.lr)
        else:
            step, evaluate = torch_side(initial, vocab, args.embed, args.hidden, args.lr)
        curves[name] = race(name, step, evaluate, train, valid, args)
    load = os.getloadavg()
    for name, curve in curves.items():
        last = curve[-1]
        print(json.dumps({"summary": name, "minutes": args.minutes,
                          "final_valid_bits": last["valid_bits"], "steps": last["steps"],
                          "chars_per_s": round(last["chars"] / max(last["train_s"], 1e-9)),
                          "load_average": [round(v, 2) for v in load]}), flush=True)
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"args": vars(args), "curves": curves}, f, indent=1)
    if args.plot:
        plot(curves, args.plot)


if __name__ == "__main__":
    main()
