"""Training: ``fit`` / ``evaluate`` / ``predict`` (one engine) and its callbacks."""
from . import callbacks, metrics
from .callbacks import (PRIORITY_DEFAULT, PRIORITY_RECORD, PRIORITY_UPDATE, Callback, CSVLogger,
                        EarlyStopping, JSONLogger, LambdaCallback, LRScheduler,
                        LRSchedulerCallback, ModelCheckpoint, ProgressBar)
from .tensorboard import TensorBoard
from .loop import History, NonFiniteLossError, Trainer, evaluate, fit, make_optimizer, predict

__all__ = ["fit", "evaluate", "predict", "Trainer", "History", "NonFiniteLossError",
           "make_optimizer", "Callback", "LambdaCallback", "ProgressBar", "CSVLogger",
           "JSONLogger", "ModelCheckpoint", "EarlyStopping", "LRSchedulerCallback", "LRScheduler",
           "TensorBoard", "callbacks",
           "metrics", "PRIORITY_UPDATE", "PRIORITY_DEFAULT", "PRIORITY_RECORD"]
