"""The character language model race: ournn and PyTorch train the same model on Shakespeare for
the same wall time, one after the other, and the validation loss is compared.

Both start from the same weights (ournn's initialisation copied into torch), read the same
batches (``ournn.data.ChunkLoader`` over the standard training split: contiguous streams,
truncated BPTT with the state carried and detached), and use the same optimizer (Adam,
gradient norm clipped at 5). Only training steps count towards the budget: every
``--eval-every`` seconds of training, the loss on the first ``--valid-chars`` characters of
the validation split is measured (state carried across its chunks) and the clock is paused.

    python benchmarks/race_charlm.py --minutes 20 --out race.json --plot race.png

Prints one JSON object per evaluation, then a summary line per framework; ``--plot`` draws the
curves (bits per character against training seconds). ``--interleave 60`` makes the
competitors take turns of 60 training seconds instead of running one after the other, so a
change in the machine's load weighs on all alike; ``--frameworks ournn,torch,chargpt`` adds
ournn's character transformer (``chargpt``, context ``--seq-len``) for the same training time.
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


class Runner:
    """One competitor: its step and evaluation, its own stream of batches and hidden state, and
    the training seconds it has used. ``advance(seconds)`` trains for that much more (up to the
    budget), evaluating every ``args.eval_every`` seconds of training with the clock paused."""

    def __init__(self, name, step, evaluate, train, valid, args):
        self.name, self.step, self.evaluate, self.valid, self.args = (name, step, evaluate,
                                                                      valid, args)
        self.budget = 60.0 * args.minutes
        self.loader = ChunkLoader(train.data, batch_size=args.batch_size,
                                  seq_len=args.seq_len, drop_last=True)
        self.batches = iter(self.loader)
        self.trained, self.steps, self.chars, self.next_eval = 0.0, 0, 0, 0.0
        self.curve, self.hidden, self.done = [], None, False

    def _score(self):
        nats = self.evaluate(ChunkLoader(self.valid.data[:self.args.valid_chars],
                                         batch_size=self.args.batch_size,
                                         seq_len=self.args.seq_len, drop_last=True))
        point = {"framework": self.name, "train_s": round(self.trained, 2),
                 "steps": self.steps, "chars": self.chars, "valid_nats": round(nats, 5),
                 "valid_bits": round(nats / math.log(2), 5),
                 "load_1min": round(os.getloadavg()[0], 2)}
        self.curve.append(point)
        print(json.dumps(point), flush=True)
        self.next_eval += self.args.eval_every

    def advance(self, seconds):
        until = min(self.trained + seconds, self.budget)
        while not self.done:
            if self.trained >= self.next_eval or self.trained >= self.budget:
                self._score()
                if self.trained >= self.budget:
                    self.done = True
                    break
            if self.trained >= until:
                break
            try:
                x, y = next(self.batches)
            except StopIteration:
                self.batches = iter(self.loader)
                continue
            if self.loader.new_epoch:
                self.hidden = None
            x, y = np.array(x), np.array(y)        # writable copies (torch refuses others)
            t0 = time.perf_counter()
            _, self.hidden = self.step(x, y, self.hidden)
            self.trained += time.perf_counter() - t0
            self.steps += 1
            self.chars += x.size


def race(runners, slice_s):
    """Run every competitor to its budget: one after the other (``slice_s`` 0), or taking
    turns of ``slice_s`` training seconds, so that a machine whose load changes during the
    race weighs on every competitor alike."""
    if slice_s <= 0:
        for r in runners:
            r.advance(float("inf"))
    while not all(r.done for r in runners):
        for r in runners:
            r.advance(slice_s)
    return {r.name: r.curve for r in runners}


LABELS = {"ournn": "ournn LSTM", "torch": "PyTorch LSTM", "chargpt": "ournn transformer"}


def plot(curves, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    later = [p["valid_bits"] for c in curves.values() for p in c if p["train_s"] > 0]
    for name, curve in curves.items():
        ax.plot([p["train_s"] / 60 for p in curve], [p["valid_bits"] for p in curve],
                marker="o", ms=3, label=LABELS.get(name, name))
    if later:       # the untrained start (~6.4 bits) would flatten the part that matters
        ax.set_ylim(min(later) - 0.05, max(later) + 0.1)
    ax.set_xlabel("training time (minutes)")
    ax.set_ylabel("validation loss (bits per character)")
    ax.set_title("Character models on Shakespeare, same batches"
                 if "chargpt" in curves else
                 "Character LSTM on Shakespeare, same model, same batches")
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
    p.add_argument("--frameworks", default="ournn,torch",
                   help="competitors, from ournn, torch (the same LSTM) and chargpt (ournn's "
                        "character transformer)")
    p.add_argument("--interleave", type=float, default=0.0, metavar="SECONDS",
                   help="take turns of this many training seconds (0: one after the other)")
    p.add_argument("--gpt-width", type=int, default=128, help="chargpt's d_model")
    p.add_argument("--gpt-heads", type=int, default=4)
    p.add_argument("--gpt-layers", type=int, default=4)
    p.add_argument("--gpt-lr", type=float, default=1e-3)
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
    runners = []
    for name in args.frameworks.split(","):
        if name == "ournn":
            step, evaluate = ournn_side(model, args.lr)
        elif name == "torch":
            step, evaluate = torch_side(initial, vocab, args.embed, args.hidden, args.lr)
        elif name == "chargpt":     # ournn's character transformer, for the same wall time
            ournn.manual_seed(0)
            gpt = ournn.models.get_model("chargpt", vocab_size=vocab, d_model=args.gpt_width,
                                         nhead=args.gpt_heads, num_layers=args.gpt_layers,
                                         context=args.seq_len)
            step, evaluate = ournn_side(gpt, args.gpt_lr)
        else:
            p.error(f"--frameworks: unknown name {name!r} (ournn, torch, chargpt)")
        runners.append(Runner(name, step, evaluate, train, valid, args))
    curves = race(runners, args.interleave)
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
