"""A character language model on Shakespeare, in a plain loop: Embedding -> LSTM -> Linear,
trained with truncated backpropagation through time, then sampled.

The training text is cut into ``batch`` parallel streams (``ournn.data.ChunkLoader``); each
step reads the next ``seq_len`` characters of every stream, starting from the hidden state
the previous step ended with. That state is detached first (``repackage_hidden``): without
it, the backward would run into the previous chunk's graph, which its own backward freed
(ournn's error then says so). The loss is printed per character in bits (nats / ln 2); a
model that knows nothing pays log2(84) = 6.4 bits, a good one about 1.5.

Run: python examples/char_lm.py [steps]   (default 300 steps: about 2 minutes on 2 cores)
Same model from the command line: ournn train --model charlstm --dataset shakespeare
"""
import math
import sys
import time

import numpy as np

import ournn
from ournn.data import ChunkLoader, Shakespeare, repackage_hidden
from ournn.models import get_model
from ournn.nn import functional as F
from ournn.train.sequence import evaluate_lm, sample


def main(steps=300, batch=32, seq_len=100, hidden_size=256, lr=3e-3, print_every=50,
         valid_chars=50_000, sample_chars=300, seed=0, verbose=True):
    ournn.manual_seed(seed)
    train, valid = Shakespeare("train"), Shakespeare("valid")
    V = len(train.vocab)
    model = get_model("charlstm", vocab_size=V, embed_dim=64, hidden_size=hidden_size)
    optimizer = ournn.optim.Adam(model.parameters(), lr=lr)
    loader = ChunkLoader(train.data, batch_size=batch, seq_len=seq_len)
    say = print if verbose else (lambda *a, **k: None)
    say(f"{sum(p.numel() for p in model.parameters()):,} parameters; {batch} streams of "
        f"{loader.stream_length:,} characters, {seq_len} per step")

    losses, hidden, step, start = [], None, 0, time.perf_counter()
    while step < steps:
        for x, y in loader:
            if loader.new_epoch:
                hidden = None                       # the streams start over
            logits, hidden = model(ournn.tensor(x), hidden)
            loss = F.cross_entropy(logits.reshape(-1, V), ournn.tensor(y.reshape(-1)))
            optimizer.zero_grad()
            loss.backward()
            ournn.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            optimizer.step()
            hidden = repackage_hidden(hidden)       # truncated BPTT: cut the graph here
            losses.append(loss.item() / math.log(2))
            step += 1
            if verbose and (step % print_every == 0 or step == steps):
                recent = np.mean(losses[-print_every:])
                rate = step * batch * seq_len / (time.perf_counter() - start)
                say(f"step {step:5d}  loss {recent:.3f} bits/char  ({rate:,.0f} chars/s)")
            if step >= steps:
                break
    seconds = time.perf_counter() - start
    val_bits = evaluate_lm(model, valid.data[:valid_chars], batch_size=16,
                           seq_len=seq_len) / math.log(2)
    say(f"validation (first {valid_chars:,} characters): {val_bits:.3f} bits/char")
    text = sample(model, train.vocab, "ROMEO.", sample_chars, temperature=0.8, seed=seed)
    say("\n" + text)
    return {"losses": losses, "val_bits": val_bits, "sample": text, "seconds": seconds}


if __name__ == "__main__":
    main(steps=int(sys.argv[1]) if len(sys.argv) > 1 else 300)
