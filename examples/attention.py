"""A tiny transformer learns to reverse digit sequences.

Each example is ``d1 d2 ... dn | dn ... d2 d1``: the model reads it left to right with causal
self-attention (two ``nn.TransformerEncoderLayer``s and the causal mask of
``nn.Transformer.generate_square_subsequent_mask``) and predicts each next token; the loss
counts the answer (the part after ``|``). To answer position i the model has to attend to
the mirrored position of the question, which a recurrent model of this size finds hard and
attention finds at once.

Run: python examples/attention.py   (about 15 s on 2 cores)
"""
import time

import numpy as np

import ournn
import ournn.nn as nn
import ournn.nn.functional as F

DIGITS = 10
SEP = DIGITS                  # the token "|"
VOCAB = DIGITS + 1


def batch(rng, n, length):
    """``n`` sequences ``digits | reversed digits``: inputs (n, 2*length) and the next-token
    targets (n, 2*length), -100 (ignored) on the question."""
    digits = rng.integers(0, DIGITS, (n, length))
    seq = np.concatenate([digits, np.full((n, 1), SEP), digits[:, ::-1]], axis=1)
    x, y = seq[:, :-1], seq[:, 1:].copy()
    y[:, :length - 1] = -100            # the question cannot be predicted
    y[:, length - 1] = -100             # nor the separator
    return x, y


class TinyTransformer(nn.Module):
    def __init__(self, context, d_model=48, nhead=4, num_layers=2):
        super().__init__()
        self.tokens = nn.Parameter(ournn.randn(VOCAB, d_model)._data * 0.1)
        self.positions = nn.Parameter(ournn.randn(context, d_model)._data * 0.1)
        layer = nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward=4 * d_model,
                                           dropout=0.0, batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, num_layers, norm=nn.LayerNorm(d_model))
        self.head = nn.Linear(d_model, VOCAB)
        self.mask = nn.Transformer.generate_square_subsequent_mask(context)

    def forward(self, x):
        T = x.shape[1]
        h = self.tokens[x] + self.positions[:T]
        h = self.encoder(h, mask=self.mask[:T, :T], is_causal=True)
        return self.head(h)


def accuracy(model, rng, length, n=256):
    """The share of whole answers right, predicting greedily one token at a time."""
    x, _ = batch(rng, n, length)
    seq = x[:, :length + 1].copy()
    model.eval()
    with ournn.no_grad():
        for _ in range(length):
            logits = model(ournn.tensor(seq))
            seq = np.concatenate([seq, logits._data[:, -1].argmax(-1)[:, None]], axis=1)
    model.train()
    answer = seq[:, length + 1:]
    return float((answer == x[:, :length][:, ::-1]).all(axis=1).mean())


def main(steps=150, length=6, batch_size=64, lr=3e-3, seed=0, print_every=25):
    ournn.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = TinyTransformer(2 * length)
    opt = ournn.optim.Adam(model.parameters(), lr=lr)
    losses = []
    start = time.perf_counter()
    for step in range(1, steps + 1):
        x, y = batch(rng, batch_size, length)
        logits = model(ournn.tensor(x))
        loss = F.cross_entropy(logits.reshape(-1, VOCAB), ournn.tensor(y.reshape(-1)),
                               ignore_index=-100)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
        if step == 1 or step % print_every == 0 or step == steps:
            print(f"step {step:4d}  loss {np.mean(losses[-print_every:]):.4f}  "
                  f"({time.perf_counter() - start:.1f} s)")
    seconds = time.perf_counter() - start
    acc = accuracy(model, rng, length)
    print(f"first loss {losses[0]:.3f}, last loss {np.mean(losses[-20:]):.3f} "
          f"(chance {np.log(DIGITS):.3f}); {seconds:.1f} s; whole sequences reversed "
          f"right: {acc:.0%}")
    return {"losses": losses, "seconds": seconds, "accuracy": acc}


if __name__ == "__main__":
    main()
