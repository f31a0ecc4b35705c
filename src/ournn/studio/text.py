"""The studio's text job: a character language model learning the Shakespeare corpus.

``TextJob`` is a ``Job`` whose run is the loop of ``ournn train --model charlstm`` (truncated
backpropagation through time, ``ournn.train.sequence``) instead of ``fit``; it reports,
pauses, steps and serves the server's calls through the same ``StudioCallback``.
"""
import time

import numpy as np

from ..data import ChunkLoader
from ..optim.registry import make_optimizer
from ..train.loop import NonFiniteLossError
from ..train.sequence import LN2, evaluate_lm, train_step
from .jobs import MAX_EPOCHS_UNTIL_PAUSED, Job

# The studio's character model: the zoo's charlstm, smaller (it trains as one watches), on
# chunks of TEXT_SEQ_LEN characters; each epoch is scored on the first TEXT_VAL_CHARS
# characters of the validation text. Losses are in bits per character.
TEXT_MODEL = {"embed_dim": 32, "hidden_size": 128}
TEXT_SEQ_LEN = 64
TEXT_VAL_CHARS = 20_000


class _TextTrainer:
    """What StudioCallback reads of a trainer, for the language model's own loop."""

    def __init__(self, loader, optimizer):
        self.train_loader, self.optimizer = loader, optimizer
        self.epoch = self.step = self.global_step = self.samples_this_session = 0
        self.stop_training, self.stop_reason = False, None
        self.loss_sum, self.count = 0.0, 0

    def running_logs(self):
        return {"loss": self.loss_sum / self.count} if self.count else {}

    def current_lr(self):
        return float(self.optimizer.param_groups[0]["lr"])


class TextJob(Job):
    """A character language model learning the Shakespeare corpus with truncated BPTT
    (``ournn.train.sequence``: the same train_step and evaluate_lm as ``ournn train``),
    reporting, pausing and serving calls through the same StudioCallback as the others."""

    def _run(self, callback):
        # the pieces of `ournn train --model charlstm` (train.sequence.run_sequence_training),
        # which trains language models outside the image recipe (build_run): the chunked
        # loader, its optimizer built from the same settings, train_step and evaluate_lm
        setup, ds = self.setup, self.dataset
        ids = ds.x[:setup["train_size"]] if setup.get("train_size") else ds.x
        loader = ChunkLoader(ids, setup["batch_size"], TEXT_SEQ_LEN)
        self.optimizer = make_optimizer(setup["optimizer"], self.model.parameters(),
                                        setup["lr"], setup["weight_decay"])
        self._restore_optimizer(self.optimizer)
        epochs = MAX_EPOCHS_UNTIL_PAUSED if setup.get("until_paused") else setup["epochs"]
        t = _TextTrainer(loader, self.optimizer)
        callback.on_train_begin(t)
        while t.epoch < epochs and not t.stop_training:
            callback.on_epoch_begin(t)
            t.loss_sum, t.count, t.samples_this_session, hidden = 0.0, 0, 0, None
            start = time.perf_counter()
            for x, y in loader:
                nats, hidden = train_step(self.model, self.optimizer, x, y, hidden)
                if not np.isfinite(nats):
                    raise NonFiniteLossError(f"loss became {nats} at epoch {t.epoch + 1}, step "
                                             f"{t.step + 1}: try a lower learning rate")
                t.loss_sum += nats / LN2 * y.size
                t.count += y.size
                t.samples_this_session += y.size        # characters
                t.step += 1
                t.global_step += 1
                callback.on_batch_end(t, nats / LN2)
                if t.stop_training:
                    return
            val = evaluate_lm(self.model, ds.tx[:TEXT_VAL_CHARS], batch_size=16,
                              seq_len=TEXT_SEQ_LEN)
            logs = {"loss": t.loss_sum / max(t.count, 1), "val_loss": val / LN2,
                    "lr": t.current_lr(), "time": time.perf_counter() - start}
            t.epoch += 1
            t.step = 0
            callback.on_epoch_end(t, logs)
        callback.on_train_end(t)
