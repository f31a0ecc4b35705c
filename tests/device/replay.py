"""Run the CPU suite's own op checks again on the stand-in device.

The op and layer tests of tests/ops and tests/nn check each op with ``helpers.check_op``
(gradcheck and PyTorch). ``cases(path)`` lists every test of such a file that calls
``check_op``, with each combination of its ``parametrize`` arguments; ``run(case)`` calls the
test with ``check_op`` replaced by ``check_on_device``, which runs the same function on CPU
tensors and on device tensors (made while the default device is ``"cuda"``, so constants the
test makes inside its function are there too) and requires the same forward values and input
gradients. A new op test there is a new device test here, with no list to keep.
"""
import importlib.util
import inspect
import itertools
import pathlib

import numpy as np
import pytest

import ournn
from helpers import random_inputs

ROOT = pathlib.Path(__file__).resolve().parents[1]
_MODULES = {}


def _module(rel):
    if rel not in _MODULES:
        path = ROOT / rel
        spec = importlib.util.spec_from_file_location("ondevice_" + path.stem, path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        _MODULES[rel] = mod
    return _MODULES[rel]


def _combinations(fn):
    """Every keyword combination of ``fn``'s parametrize marks (ids as pytest would join)."""
    axes = []
    for mark in getattr(fn, "pytestmark", []):
        if mark.name != "parametrize":
            continue
        names, values = mark.args[0], mark.args[1]
        names = [n.strip() for n in names.split(",")] if isinstance(names, str) else list(names)
        rows = []
        for v in values:
            v = v.values if hasattr(v, "values") and hasattr(v, "marks") else v
            v = v if len(names) > 1 else (v,)
            rows.append(dict(zip(names, v)))
        axes.append(rows)
    for combo in itertools.product(*axes):
        kwargs = {}
        for part in combo:
            kwargs.update(part)
        yield kwargs


def cases(rel):
    """pytest params (file, test name, kwargs) for every check_op test of tests/``rel``."""
    mod = _module(rel)
    out = []
    for name, fn in vars(mod).items():
        if not (name.startswith("test_") and inspect.isfunction(fn)
                and "check_op" in fn.__code__.co_names):
            continue
        for i, kwargs in enumerate(_combinations(fn)):
            if set(inspect.signature(fn).parameters) - set(kwargs):
                continue                     # needs a fixture: not replayed
            out.append(pytest.param(rel, name, kwargs, id=f"{name}[{i}]"))
    return out


def check_on_device(shapes, ournn_fn, torch_fn=None, *, arrays=None, seed=0, positive=False,
                    low=None, high=None, atol=1e-6, rtol=1e-5, **_):
    """The same forward values and input gradients on the CPU and on the device."""
    if arrays is None:
        arrays = random_inputs(shapes, seed, positive, low, high)
    results = []
    for dev in ("cpu", "cuda"):
        ournn.manual_seed(seed)
        ournn.set_default_device(dev)
        try:
            xs = [ournn.tensor(a.copy(), requires_grad=True) for a in arrays]
            out = ournn_fn(*xs)
            outs = out if isinstance(out, (tuple, list)) else (out,)
            rng = np.random.default_rng(seed + 1)
            total = 0
            values = []
            for o in outs:
                assert o.device == dev, f"an output is on {o.device}, not {dev}"
                values.append(o.detach().cpu().numpy().copy())
                if o.dtype.kind == "f" and o.requires_grad:
                    total = total + (o * ournn.tensor(rng.standard_normal(o.shape))).sum()
            if isinstance(total, ournn.Tensor):
                total.backward()
            grads = [None if x.grad is None else x.grad.cpu().numpy().copy() for x in xs]
            for x in xs:
                assert x.grad is None or x.grad.device == dev
        finally:
            ournn.set_default_device("cpu")
        results.append((values, grads))
    (v_cpu, g_cpu), (v_dev, g_dev) = results
    for i, (a, b) in enumerate(zip(v_cpu, v_dev)):
        np.testing.assert_allclose(b, a, rtol=1e-9, atol=1e-12,
                                   err_msg=f"output {i} differs between the CPU and the device")
    for i, (a, b) in enumerate(zip(g_cpu, g_dev)):
        assert (a is None) == (b is None), f"input {i} has a gradient on one device only"
        if a is not None:
            np.testing.assert_allclose(b, a, rtol=1e-9, atol=1e-12, err_msg=(
                f"gradient of input {i} differs between the CPU and the device"))


def run(rel, name, kwargs):
    mod = _module(rel)
    original = mod.check_op
    mod.check_op = check_on_device
    try:
        getattr(mod, name)(**kwargs)
    finally:
        mod.check_op = original
