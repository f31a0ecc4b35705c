"""Module hooks with PyTorch's signatures: forward pre hooks, forward hooks, full backward
hooks and backward pre hooks, the global module hooks, removable handles.

Each scenario is written once as ``scenario(L)`` with ``L`` the library (``ournn`` or
``torch``): the same model with the same float64 weights; what each hook saw and the final
gradients are compared with PyTorch's when torch is installed.
"""
import numpy as np
import pytest

import ournn
from ournn import nn
from ournn.nn.module import Module
from tests.helpers import requires_torch, torch


def _np(t):
    if t is None:
        return None
    if torch is not None and isinstance(t, torch.Tensor):
        return t.detach().numpy().copy()
    return np.array(t._data if isinstance(t, ournn.Tensor) else t)


def _mlp(L, seed=0):
    """Linear(4, 5) - Tanh - Linear(5, 3) in float64 with the same weights in both."""
    rng = np.random.default_rng(seed)
    model = L.nn.Sequential(L.nn.Linear(4, 5), L.nn.Tanh(), L.nn.Linear(5, 3)).double()
    for p in model.parameters():
        value = rng.standard_normal(tuple(p.shape))
        if L is ournn:
            p._data = value
        else:
            with torch.no_grad():
                p.copy_(torch.tensor(value))
    return model


def _input(L, requires_grad=True, seed=1, shape=(6, 4)):
    x = np.random.default_rng(seed).standard_normal(shape)
    return L.tensor(x, requires_grad=requires_grad)


def _libs():
    return [ournn] + ([torch] if torch is not None else [])


def _compare(scenario, rtol=1e-10, atol=1e-12):
    """Run ``scenario(L)`` (a dict name -> tensor, list of tensors or value) on ournn and,
    when installed, on torch; the results must be equal."""
    results = [scenario(L) for L in _libs()]
    if len(results) == 1:
        return results[0]
    ours, theirs = results
    assert ours.keys() == theirs.keys()
    for key in ours:
        a, b = ours[key], theirs[key]
        if isinstance(a, (list, tuple)):
            assert len(a) == len(b), key
            for k, (u, v) in enumerate(zip(a, b)):
                _same(u, v, f"{key}[{k}]", rtol, atol)
        else:
            _same(a, b, key, rtol, atol)
    return ours


def _same(a, b, key, rtol, atol):
    if a is None or b is None:
        assert a is None and b is None, key
        return
    if isinstance(a, (int, float, str, bool)):
        assert a == b, key
        return
    np.testing.assert_allclose(_np(a), _np(b), rtol=rtol, atol=atol, err_msg=key)


def _grads(model):
    return [p.grad for p in model.parameters()]


# ----------------------------------------------------------------------- forward pre hooks
def test_forward_pre_hook_replaces_args_and_is_removable():
    def scenario(L):
        model = _mlp(L)
        seen = []
        h = model[0].register_forward_pre_hook(lambda m, args: (seen.append(args[0].shape),
                                                                 args[0] * 2)[1])
        x = _input(L)
        out1 = model(x)
        h.remove()
        out2 = model(x)
        return {"hooked": out1, "plain": out2, "calls": len(seen),
                "doubled": model(x * 2)}

    r = _compare(scenario)
    assert r["calls"] == 1
    np.testing.assert_allclose(_np(r["hooked"]), _np(r["doubled"]))


def test_forward_pre_hook_with_kwargs_and_prepend_order():
    def scenario(L):
        order = []

        class Scale(L.nn.Module):
            def forward(self, x, factor=1.0):
                return x * factor

        m = Scale()
        m.register_forward_pre_hook(lambda mod, args: order.append("a"))
        m.register_forward_pre_hook(lambda mod, args: order.append("first"), prepend=True)

        def kw(mod, args, kwargs):
            order.append("kw")
            return args, {"factor": kwargs.get("factor", 1.0) * 3}

        m.register_forward_pre_hook(kw, with_kwargs=True)
        out = m(_input(L), factor=2.0)
        return {"out": out, "order": ",".join(order)}

    r = _compare(scenario)
    assert r["order"] == "first,a,kw"


def test_forward_pre_hook_returning_one_value_is_taken_as_the_only_argument():
    def scenario(L):
        lin = _mlp(L)[0]
        lin.register_forward_pre_hook(lambda m, args: args[0] + 1)
        return {"out": lin(_input(L))}

    _compare(scenario)


# --------------------------------------------------------------------------- forward hooks
def test_forward_hook_replaces_output_with_kwargs_and_prepend():
    def scenario(L):
        order = []
        model = _mlp(L)
        lin = model[2]
        lin.register_forward_hook(lambda m, args, out: (order.append("b"), out * 2)[1])
        lin.register_forward_hook(lambda m, args, out: order.append("a"), prepend=True)
        lin.register_forward_hook(lambda m, args, kwargs, out: (order.append("kw"),
                                                                out + len(kwargs))[1],
                                  with_kwargs=True)
        x = _input(L)
        out = model(x)
        out.sum().backward()
        return {"out": out, "order": ",".join(order), "x.grad": x.grad,
                "grads": _grads(model)}

    r = _compare(scenario)
    assert r["order"] == "a,b,kw"


def test_forward_hook_always_call_runs_when_forward_raises():
    for L in _libs():
        calls = []

        class Boom(L.nn.Module):
            def forward(self, x):
                raise ValueError("boom")

        m = Boom()
        m.register_forward_hook(lambda mod, args, out: calls.append(("always", out)),
                                always_call=True)
        m.register_forward_hook(lambda mod, args, out: calls.append(("plain", out)))
        with pytest.raises(ValueError, match="boom"):
            m(_input(L))
        assert calls == [("always", None)], L.__name__


def test_handle_is_a_context_manager_and_removes_once():
    lin = nn.Linear(2, 2)
    calls = []
    with lin.register_forward_hook(lambda m, a, o: calls.append(1)) as handle:
        lin(ournn.randn(1, 2))
    lin(ournn.randn(1, 2))
    handle.remove()                                  # a second remove does nothing
    assert calls == [1]
    assert isinstance(handle.id, int)


def test_no_hook_costs_one_check_and_removing_the_last_hook_empties_it():
    lin = nn.Linear(2, 2)
    assert "_hooks" not in lin.__dict__
    h1 = lin.register_forward_pre_hook(lambda m, a: None)
    h2 = lin.register_full_backward_hook(lambda m, gi, go: None)
    assert lin.__dict__["_hooks"]
    h1.remove()
    h2.remove()
    assert not lin.__dict__["_hooks"]               # falsy: __call__ takes the plain path
    x = ournn.randn(3, 2, requires_grad=True)
    y = lin(x)
    assert type(y._ctx).__name__ != "BackwardHookFunction"


# ---------------------------------------------------------------------- full backward hooks
def test_full_backward_hook_sees_grad_input_and_grad_output_as_torch():
    def scenario(L):
        model = _mlp(L)
        seen = {}
        for name in ("0", "1", "2"):
            def hook(m, grad_input, grad_output, name=name):
                seen[name] = (grad_input, grad_output)
            model[int(name)].register_full_backward_hook(hook)
        x = _input(L)
        w = L.tensor(np.random.default_rng(5).standard_normal((6, 3)))
        (model(x) * w).sum().backward()
        out = {"x.grad": x.grad, "grads": _grads(model)}
        for name, (gi, go) in seen.items():
            out[f"{name}.grad_input"] = list(gi)
            out[f"{name}.grad_output"] = list(go)
        return out

    r = _compare(scenario)
    assert len(r["0.grad_input"]) == 1 and len(r["2.grad_output"]) == 1


def test_full_backward_hook_replaces_grad_input():
    def scenario(L):
        model = _mlp(L)
        model[2].register_full_backward_hook(lambda m, gi, go: (gi[0] * 3,))
        x = _input(L)
        model(x).pow(2).sum().backward()
        return {"x.grad": x.grad, "grads": _grads(model)}

    r = _compare(scenario)
    # without the hook the gradients below layer 2 are a third of these
    model = _mlp(ournn)
    x = _input(ournn)
    model(x).pow(2).sum().backward()
    np.testing.assert_allclose(_np(r["x.grad"]), 3 * _np(x.grad))
    np.testing.assert_allclose(_np(r["grads"][2]), _np(model[2].weight.grad))


def test_full_backward_pre_hook_replaces_grad_output():
    def scenario(L):
        model = _mlp(L)
        seen = []
        model[1].register_full_backward_pre_hook(lambda m, go: (seen.append(go[0]),
                                                                (go[0] * -2,))[1])
        x = _input(L)
        model(x).sum().backward()
        return {"seen": seen, "x.grad": x.grad, "grads": _grads(model)}

    _compare(scenario)


@pytest.mark.filterwarnings("ignore:Full backward hook is firing")
def test_backward_hook_on_first_layer_whose_input_needs_no_grad():
    def scenario(L):
        model = _mlp(L)
        seen = []
        model[0].register_full_backward_hook(lambda m, gi, go: seen.append((gi, go)))
        model(_input(L, requires_grad=False)).sum().backward()
        (gi, go), = seen
        return {"grad_input": list(gi), "grad_output": list(go), "grads": _grads(model)}

    r = _compare(scenario)
    assert r["grad_input"] == [None]


def test_backward_hooks_on_a_module_with_several_inputs_and_outputs():
    def scenario(L):
        class Two(L.nn.Module):
            def forward(self, a, scale, b):
                return a * b * scale, (a - b).tanh(), "not a tensor"

        m = Two()
        seen = {}
        m.register_full_backward_pre_hook(lambda mod, go: seen.__setitem__("pre", go))
        m.register_full_backward_hook(lambda mod, gi, go: seen.__setitem__("full", (gi, go)))
        a, b = _input(L, seed=2), _input(L, seed=3)
        p, q, _ = m(a, 0.5, b)
        (p.sum() + (q * q).sum()).backward()
        gi, go = seen["full"]
        return {"pre": list(seen["pre"]), "gi": list(gi), "go": list(go),
                "a.grad": a.grad, "b.grad": b.grad}

    r = _compare(scenario)
    assert r["gi"][1] is None and r["go"][2] is None and len(r["gi"]) == 3


def test_backward_hooks_run_on_each_backward_with_retain_graph():
    def scenario(L):
        model = _mlp(L)
        calls = []
        model[2].register_full_backward_hook(lambda m, gi, go: calls.append(gi[0]))
        x = _input(L)
        y = model(x).sum()
        y.backward(retain_graph=True)
        y.backward()
        return {"calls": calls, "x.grad": x.grad}

    r = _compare(scenario)
    assert len(r["calls"]) == 2


def test_backward_hook_wrong_number_of_grads_raises():
    model = _mlp(ournn)
    model[2].register_full_backward_hook(lambda m, gi, go: (gi[0], gi[0]))
    with pytest.raises(RuntimeError, match="invalid number of grad_input"):
        model(_input(ournn)).sum().backward()


def test_backward_hooks_under_no_grad_do_nothing():
    model = _mlp(ournn)
    calls = []
    model[0].register_full_backward_hook(lambda m, gi, go: calls.append(1))
    with ournn.no_grad():
        y = model(_input(ournn))
    assert y._ctx is None and calls == []


def test_backward_hooks_with_create_graph_a_gradient_penalty_as_torch():
    """The hooks see tensors with a graph; the identity ops pass gradients of gradients
    through; the second backward (reaching the inputs without the outputs) calls no hook."""
    def scenario(L):
        model = _mlp(L)
        calls = {"full": 0, "pre": 0}

        def full(m, gi, go):
            calls["full"] += 1
            return (gi[0] * 2,)

        def pre(m, go):
            calls["pre"] += 1

        model[2].register_full_backward_hook(full)
        model[0].register_full_backward_pre_hook(pre)
        x = _input(L)
        out = model(x).sum()
        (g,) = L.autograd.grad(out, x, create_graph=True)
        after_first = dict(calls)
        penalty = ((g * g).sum(dim=1).sqrt() - 1).pow(2).mean()
        penalty.backward()
        return {"g": g, "penalty": penalty, "grads": _grads(model),
                "full_first": after_first["full"], "pre_first": after_first["pre"],
                "full": calls["full"], "pre": calls["pre"]}

    r = _compare(scenario)
    assert r["full_first"] == 1 and r["pre_first"] == 1


def test_backward_hook_identity_has_double_backward():
    from ournn.autograd import gradgradcheck
    lin = nn.Linear(3, 2).double()
    lin.register_full_backward_hook(lambda m, gi, go: (gi[0] * 1.0,))
    lin.register_full_backward_pre_hook(lambda m, go: None)

    def fn(x):
        return lin(x).tanh()

    x = ournn.tensor(np.random.default_rng(0).standard_normal((2, 3)), requires_grad=True)
    assert gradgradcheck(fn, (x,))


def test_backward_hooks_on_a_module_called_twice_and_on_identity():
    def scenario(L):
        model = _mlp(L)
        ident = L.nn.Identity()
        seen = []
        model[0].register_full_backward_hook(lambda m, gi, go: seen.append(("lin", go[0])))
        ident.register_full_backward_hook(lambda m, gi, go: seen.append(("id", gi[0])))
        x = _input(L)
        y = model(ident(x)) + model(x * 2)         # the first layer runs twice
        (y * y).sum().backward()
        # the order of the two calls' hooks may differ from PyTorch's (both are valid
        # topological orders): compare them sorted
        lin = sorted((g for n, g in seen if n == "lin"), key=lambda g: float(_np(g).sum()))
        return {"lin": lin, "id": [g for n, g in seen if n == "id"],
                "who": ",".join(sorted(n for n, _ in seen)),
                "x.grad": x.grad, "grads": _grads(model)}

    r = _compare(scenario)
    assert r["who"].count("lin") == 2 and r["who"].count("id") == 1


# ------------------------------------------------------------------------------ global hooks
def test_global_module_hooks_run_for_every_module_and_go_away():
    from ournn.nn.modules.module import (register_module_forward_hook,
                                         register_module_forward_pre_hook,
                                         register_module_full_backward_hook)

    def scenario(L):
        mm = (ournn.nn.modules.module if L is ournn else torch.nn.modules.module)
        model = _mlp(L)
        names = []
        own = []
        model[0].register_forward_hook(lambda m, a, o: own.append(len(names)))
        handles = [
            mm.register_module_forward_pre_hook(lambda m, a: names.append(type(m).__name__)),
            mm.register_module_forward_hook(lambda m, a, o: o * 1.0),
            mm.register_module_full_backward_hook(
                lambda m, gi, go: names.append("bw " + type(m).__name__)),
        ]
        try:
            x = _input(L)
            model(x).sum().backward()
        finally:
            for h in handles:
                h.remove()
        return {"names": ",".join(names), "own": own, "x.grad": x.grad}

    r = _compare(scenario)
    assert r["names"].startswith("Sequential,Linear,Tanh,Linear")
    assert Module.__call__ is Module._plain_call
    assert register_module_forward_hook and register_module_forward_pre_hook
    assert register_module_full_backward_hook


# --------------------------------------------------------------------------------- tracing
def test_hooks_run_while_tracing_and_the_recorder_sees_the_hooked_output():
    from ournn.tracing import trace_model
    model = _mlp(ournn)
    model[0].register_forward_pre_hook(lambda m, args: (args[0] * 0,))
    model[2].register_full_backward_hook(lambda m, gi, go: None)
    x = _input(ournn)
    tr = trace_model(model, x)
    np.testing.assert_allclose(_np(tr.output), _np(model(x * 0)))


@requires_torch
def test_torch_is_really_compared():
    assert torch is not None
