"""ournn.tracing: one forward pass recorded as module calls and ops, without touching the model."""
import threading

import numpy as np
import pytest

import ournn
from ournn import nn
from ournn.autograd.function import TRACERS
from ournn.errors import GraphError, ShapeError
from ournn.nn import functional as F
from ournn.tracing import trace, trace_graph, trace_model


class Residual(nn.Module):
    """out = conv2(relu(conv1(x))) + x, then ops between modules: reshape, cat, a Linear."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(2, 2, 3, padding=1)
        self.conv2 = nn.Conv2d(2, 2, 3, padding=1)
        self.fc = nn.Linear(64, 3)
        self.seen_forward = []

    def forward(self, x):
        self.seen_forward.append(("forward" in self.__dict__, type(self).forward))
        out = self.conv2(F.relu(self.conv1(x))) + x
        flat = ournn.cat([out.reshape(out.shape[0], -1), x.reshape(x.shape[0], -1)], dim=1)
        return self.fc(flat)


def x_of(shape, seed=0):
    return ournn.tensor(np.random.default_rng(seed).random(shape, dtype=np.float32))


def test_sequential_calls_shapes_and_ops():
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 5), nn.ReLU(), nn.Linear(5, 2))
    tr = trace_model(model, x_of((4, 3, 4)))
    assert [(c.name, c.type, c.depth) for c in tr.modules] == [
        ("", "Sequential", 0), ("0", "Flatten", 1), ("1", "Linear", 1), ("2", "ReLU", 1),
        ("3", "Linear", 1)]
    assert tr.roots == [tr.modules[0]] and tr.modules[0].children == tr.modules[1:]
    assert [c.output_shapes for c in tr.modules] == [[(4, 2)], [(4, 12)], [(4, 5)], [(4, 5)],
                                                      [(4, 2)]]
    assert tr.modules[2].input_shapes == [(4, 12)]
    assert [c.name for c in tr.leaves()] == ["0", "1", "2", "3"]
    assert [(op.type, op.module.name) for op in tr.ops] == [
        ("Reshape", "0"), ("Linear", "1"), ("ReLU", "2"), ("Linear", "3")]
    lin = tr.ops[1]
    assert lin.input_shapes == [(4, 12), (5, 12), (5,)]
    assert [tr.parameter_name(t) for t in lin.inputs] == [None, "1.weight", "1.bias"]
    assert tr.modules[2].num_params() == 65 and tr.modules[0].num_params() == 65 + 12
    assert tr.output is tr.modules[0].output and tr.modules[4].outputs[0] is tr.output
    assert tr.producer(tr.output) is tr.ops[-1]
    assert tr.modules[0].all_ops() == tr.ops and tr.modules[0].ops == []


def test_subclassed_residual_sees_every_op_and_the_skip():
    model = Residual()
    x = x_of((2, 2, 4, 4))
    tr = trace_model(model, x)
    assert [c.name for c in tr.modules] == ["", "conv1", "conv2", "fc"]
    assert [op.type for op in tr.ops] == ["Conv2d", "ReLU", "Conv2d", "Add", "Reshape",
                                         "Reshape", "Concatenate", "Linear"]
    owner = [op.module.name for op in tr.ops]
    assert owner == ["conv1", "", "conv2", "", "", "", "", "fc"]   # relu/add/cat in forward
    add = tr.ops[3]
    conv2 = tr.calls_of(model.conv2)[0]
    assert add.inputs[0] is conv2.outputs[0] and add.inputs[1] is x   # the skip connection
    assert tr.producer(add.inputs[0]) is tr.ops[2]
    cat = tr.ops[6]
    assert [tr.producer(t).type for t in cat.inputs] == ["Reshape", "Reshape"]
    assert cat.kwargs == {"axis": 1} and len(cat.args) == 2
    assert cat.output_shapes == [(2, 64)]
    assert [op.type for op in tr.modules[0].ops] == ["ReLU", "Add", "Reshape", "Reshape",
                                                     "Concatenate"]


def test_layer_called_twice_counts_calls():
    class Twice(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc, self.act = nn.Linear(4, 4), nn.Tanh()

        def forward(self, x):
            return self.fc(self.act(self.fc(x)))

    model = Twice()
    tr = trace_model(model, x_of((3, 4)))
    calls = tr.calls_of(model.fc)
    assert [c.call for c in calls] == [1, 2]
    assert calls[1].inputs[0] is tr.calls_of(model.act)[0].outputs[0]
    assert [c.name for c in tr.leaves()] == ["fc", "act", "fc"]
    assert [op.module.call for op in tr.ops] == [1, 1, 2]


def test_no_grad_inputs_and_grad_mode():
    model = Residual()
    x = x_of((1, 2, 4, 4))
    assert not x.requires_grad
    with ournn.no_grad(), trace(model) as tr:
        model(x)
    assert len(tr.ops) == 8                          # every op, though no graph was recorded
    assert all(op.outputs[0].grad_fn is None for op in tr.ops)
    tr = trace_model(model, x, grad=True)            # with the graph: the nodes are grad_fn
    made = [op.outputs[0].grad_fn is op.node for op in tr.ops]
    assert made == [True] * 5 + [False] + [True] * 2   # but x.reshape: x needs no grad
    assert ournn.is_grad_enabled()


def test_trace_leaves_the_model_unchanged():
    model = Residual()
    model.train()
    before = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    hooks_before = {id(m): dict(m.__dict__.get("_hooks", {})) for m in model.modules()}
    trace_model(model, x_of((1, 2, 4, 4)))
    # forward was never replaced, not even during the pass
    assert model.seen_forward == [(False, Residual.forward)]
    for m in model.modules():
        assert "forward" not in m.__dict__
        assert dict(m.__dict__.get("_hooks", {})) == hooks_before[id(m)]
    assert model.training and all(m.training for m in model.modules())
    after = model.state_dict()
    assert before.keys() == after.keys()
    assert all(np.array_equal(before[k], after[k].numpy()) for k in before)
    assert TRACERS == []


def test_forward_hooks_still_run_and_their_output_is_recorded():
    lin = nn.Linear(3, 3)
    lin.register_forward_hook(lambda m, i, o: o * 2.0)
    tr = trace_model(lin, x_of((1, 3)))
    assert tr.modules[0].outputs[0] is tr.output
    assert [op.type for op in tr.ops] == ["Linear", "Mul"]


def test_error_names_the_calls_it_left():
    model = nn.Sequential(nn.Flatten(), nn.Sequential(nn.Linear(10, 4)))
    with pytest.raises(ShapeError), trace(model) as tr:
        model(x_of((1, 3)))
    assert [c.name for c in tr.failed] == ["1.0", "1", ""]
    assert isinstance(tr.error, ShapeError) and TRACERS == []


def test_other_threads_are_not_recorded():
    other = nn.Linear(2, 2)
    done = threading.Event()
    started = threading.Event()

    def work():
        started.set()
        while not done.is_set():
            other(x_of((1, 2)))

    t = threading.Thread(target=work)
    model = nn.Linear(2, 2)
    t.start()
    started.wait()
    try:
        for _ in range(20):
            tr = trace_model(model, x_of((1, 2)))
            assert [c.module for c in tr.modules] == [model] and len(tr.ops) == 1
    finally:
        done.set()
        t.join()


def test_copy_outputs_keeps_values_before_later_in_place_writes():
    class Writes(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(2, 2)

        def forward(self, x):
            y = self.fc(x)
            y.zero_()
            return y

    model = Writes()
    x = x_of((1, 2))
    expected = model.fc(x).numpy().copy()
    tr = trace_model(model, x, copy_outputs=True)
    fc = tr.calls_of(model.fc)[0]
    np.testing.assert_array_equal(fc.output_arrays[0], expected)
    assert not fc.outputs[0].numpy().any()


def test_trace_graph_reads_the_autograd_graph():
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU())
    x = x_of((2, 4))
    loss = model(x).sum()
    tr = trace_graph(loss)
    assert [op.type for op in tr.ops] == ["Sum", "ReLU", "Linear"]
    lin = tr.ops[2]
    assert lin.inputs[0] is None                          # x needs no grad: a constant
    assert lin.inputs[1] is model[0].weight and lin.node is tr.ops[1].inputs[0].grad_fn
    assert tr.producer(loss) is tr.ops[0]
    loss.backward()
    with pytest.raises(GraphError, match="freed by backward"):
        trace_graph(loss)
