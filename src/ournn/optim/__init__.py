"""Optimizers and learning-rate schedules (``ournn.optim``), as ``torch.optim``::

    opt = ournn.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    sched = ournn.optim.lr_scheduler.StepLR(opt, step_size=10)
    for epoch in range(30):
        for x, y in loader:
            opt.zero_grad()
            loss_fn(model(x), y).backward()
            opt.step()
        sched.step()

Every ``step()`` updates the parameter's array in place; gradients are only read.
``make_optimizer(name, params, **hyper)`` builds one by the names ``ournn train`` takes
(``OPTIMIZERS``, in ``ournn.optim.registry``).
"""
from . import lr_scheduler
from .adadelta import Adadelta
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .adamax import Adamax
from .asgd import ASGD
from .lbfgs import LBFGS
from .nadam import NAdam
from .radam import RAdam
from .registry import OPTIMIZERS, default_lr, make_optimizer, optimizer_names
from .lr_scheduler import (ChainedScheduler, ConstantLR, CosineAnnealingLR,
                           CosineAnnealingWarmRestarts, CyclicLR, ExponentialLR, LambdaLR,
                           LinearLR, LRScheduler, MultiplicativeLR, MultiStepLR, OneCycleLR,
                           PolynomialLR, ReduceLROnPlateau, SequentialLR, StepLR)
from .optimizer import Optimizer, clip_grad_norm_, clip_grad_value_
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "Adagrad", "RMSprop", "Adadelta", "Adamax",
           "NAdam", "RAdam", "ASGD", "LBFGS", "clip_grad_norm_",
           "clip_grad_value_", "lr_scheduler", "LRScheduler", "LambdaLR", "StepLR",
           "MultiStepLR", "ExponentialLR", "CosineAnnealingLR", "LinearLR", "SequentialLR",
           "OneCycleLR", "ReduceLROnPlateau", "CyclicLR", "CosineAnnealingWarmRestarts",
           "PolynomialLR", "ConstantLR", "MultiplicativeLR", "ChainedScheduler",
           "make_optimizer", "OPTIMIZERS", "optimizer_names", "default_lr"]
