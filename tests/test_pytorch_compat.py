"""PyTorch programs run with ``import ournn as torch``: each short program below is written the
way PyTorch code is written, run once on ournn and, when torch is installed, once on PyTorch
itself, and the two results are compared.

A program is a function ``program(torch)`` taking the module to use; every number it returns
must agree (float64 where it matters, so the comparison is tight).
"""
import warnings

import numpy as np
import pytest

import ournn
from ournn.errors import GraphError

try:
    import torch as real_torch
except ImportError:  # the oracle is optional
    real_torch = None


def run_both(program, rtol=1e-6, atol=1e-8):
    """Run ``program`` on ournn and (if installed) on PyTorch; compare what they return."""
    ours = program(ournn)
    if real_torch is None:
        return ours
    theirs = program(real_torch)
    assert len(ours) == len(theirs)
    for i, (a, b) in enumerate(zip(ours, theirs)):
        np.testing.assert_allclose(_plain(a), _plain(b), rtol=rtol, atol=atol,
                                   err_msg=f"result {i} differs from PyTorch's")
    return ours


def _plain(x):
    if hasattr(x, "detach"):
        x = x.detach()
    if hasattr(x, "numpy"):
        return np.asarray(x.numpy())
    return np.asarray(x)


# ---------------------------------------------------------------- autograd and in place
def test_setitem_on_a_graph_tensor_gives_pytorchs_gradient():
    def program(torch):
        x = torch.tensor([1.0, 2.0], requires_grad=True)
        y = x * 2
        y[0] = 5                      # the first element no longer depends on x
        y.sum().backward()
        return [x.grad, y]

    grad, y = run_both(program)
    np.testing.assert_array_equal(grad.numpy(), [0.0, 2.0])


def test_setitem_with_a_tensor_value_sends_the_gradient_to_it():
    def program(torch):
        x = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], dtype=torch.float64,
                         requires_grad=True)
        v = torch.tensor([10.0, 20.0], dtype=torch.float64, requires_grad=True)
        y = x * x
        y[:, 1] = v * 3
        (y * torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], dtype=torch.float64)).sum() \
            .backward()
        return [x.grad, v.grad, y]

    run_both(program)


def test_tutorial_manual_update_changes_the_parameter_in_place():
    """The tutorial's loop: ``with torch.no_grad(): w -= lr * w.grad`` then ``w.grad.zero_()``."""
    def program(torch):
        rng = np.random.default_rng(0)
        x = torch.tensor(rng.uniform(-np.pi, np.pi, 200))
        y = torch.sin(x) if hasattr(torch, "sin") else torch.tensor(np.sin(x.numpy()))
        a = torch.tensor(0.1, dtype=torch.float64, requires_grad=True)
        b = torch.tensor(0.2, dtype=torch.float64, requires_grad=True)
        c = torch.tensor(-0.1, dtype=torch.float64, requires_grad=True)
        w = a
        losses = []
        for _ in range(50):
            y_pred = a + b * x + c * x ** 3
            loss = ((y_pred - y) ** 2).sum()
            losses.append(loss.item())
            loss.backward()
            with torch.no_grad():
                a -= 1e-5 * a.grad
                b -= 1e-5 * b.grad
                c -= 1e-5 * c.grad
                a.grad.zero_()
                b.grad.zero_()
                c.grad = None
        assert w is a                       # updated in place, not rebound
        return [np.array(losses), a, b, c]

    losses, *_ = run_both(program, rtol=1e-9)
    assert losses[-1] < 0.5 * losses[0]


def test_in_place_on_a_leaf_that_requires_grad_is_refused_with_the_fix():
    w = ournn.tensor([1.0, 2.0], requires_grad=True)
    for change in (lambda: w.add_(1), lambda: w.__iadd__(1), lambda: w.zero_(),
                   lambda: w.__setitem__(0, 3.0), lambda: w.normal_()):
        with pytest.raises(GraphError, match="no_grad"):
            change()
    with ournn.no_grad():
        w.add_(1)
    w.data.mul_(2)                          # .data is outside the graph
    np.testing.assert_array_equal(w.numpy(), [4.0, 6.0])


def test_changing_a_saved_array_in_place_is_refused_at_backward():
    x = ournn.tensor([1.0, 2.0], requires_grad=True)
    w = ournn.tensor([3.0, 4.0])
    y = (x * w).sum()                        # Mul saves w to compute x's gradient
    w.add_(1)                                # ... which is then changed in place
    with pytest.raises(GraphError, match="Mul.*in-place"):
        y.backward()
    if real_torch is not None:               # PyTorch refuses the same program
        tx = real_torch.tensor([1.0, 2.0], requires_grad=True)
        tw = real_torch.tensor([3.0, 4.0])
        ty = (tx * tw).sum()
        tw.add_(1)
        with pytest.raises(RuntimeError, match="inplace"):
            ty.backward()


def test_changing_a_parameter_after_the_step_is_refused_for_a_retained_graph():
    w = ournn.tensor([1.0, 2.0], requires_grad=True)
    opt = ournn.optim.SGD([w], lr=0.1)
    loss = (w * w).sum()
    loss.backward(retain_graph=True)
    opt.step()
    with pytest.raises(GraphError, match="in-place"):
        loss.backward()


def test_in_place_ops_inside_the_graph_are_recorded():
    def program(torch):
        x = torch.tensor([0.5, -1.0, 2.0], dtype=torch.float64, requires_grad=True)
        h = x * 3
        h += 1
        h *= x
        h.sub_(x, alpha=2)
        h.div_(2.0)
        h.clamp_(-1.0, 4.0)
        h.relu_()
        h.sum().backward()
        return [h, x.grad]

    run_both(program)


def test_in_place_on_a_view_of_a_graph_tensor_names_the_fix():
    x = ournn.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    with pytest.raises(GraphError, match="view"):
        y[0:1].add_(1)


def test_views_share_memory_and_versions():
    x = ournn.zeros(2, 3)
    row = x[0]
    x.add_(1)
    np.testing.assert_array_equal(row.numpy(), 1.0)     # the view sees the write
    v = x.view(6)
    v[0] = 7
    assert x[0, 0].item() == 7
    a = ournn.tensor([1.0, 2.0], requires_grad=True)
    b = ournn.tensor([3.0, 4.0])
    bv = b.view(2)
    y = (a * b).sum()
    bv.mul_(2)                               # writes b's memory through a view
    with pytest.raises(GraphError):
        y.backward()


def test_data_and_grad_are_tensors_and_numpy_is_the_array():
    w = ournn.nn.Parameter(np.zeros(3, dtype=np.float32))
    (w * ournn.tensor([1.0, 2.0, 3.0])).sum().backward()
    assert isinstance(w.grad, ournn.Tensor) and isinstance(w.data, ournn.Tensor)
    assert isinstance(w.numpy(), np.ndarray) and isinstance(w.grad.numpy(), np.ndarray)
    w.numpy()[0] = 5                         # a NumPy user writes the array
    assert w.data[0].item() == 5
    w.data.add_(w.grad, alpha=-0.5)          # the PyTorch way
    np.testing.assert_allclose(w.numpy(), [4.5, -1.0, -1.5])
    w.grad.data.zero_()
    assert not w.grad.numpy().any()
    w.grad = np.ones(3, dtype=np.float32)    # assigning an array is fine too
    assert isinstance(w.grad, ournn.Tensor)
    with pytest.raises(ValueError, match="shape"):
        w.grad = np.ones(4)


def test_gradients_of_two_leaves_never_share_an_array():
    a = ournn.tensor([1.0, 2.0], requires_grad=True)
    b = ournn.tensor([3.0, 4.0], requires_grad=True)
    (a + b).sum().backward()                 # Add hands one gradient array to both
    a.grad.zero_()
    np.testing.assert_array_equal(b.grad.numpy(), [1.0, 1.0])


def test_size_is_the_shape_and_numel_the_count():
    x = ournn.zeros(4, 5)
    assert x.size() == (4, 5) and x.size(0) == 4 and x.size(-1) == 5 and x.numel() == 20
    assert x.size().numel() == 20 and x.shape == (4, 5)
    with pytest.raises(TypeError, match=r"numel\(\)"):
        x.size + 1
    with pytest.raises(TypeError, match=r"numel\(\)"):
        int(x.size)


def test_numpy_functions_work_on_tensors():
    x = ournn.tensor([1.0, -2.0, 3.0], requires_grad=True)
    assert np.isfinite(x).all() and float(np.abs(x).max()) == 3.0
    y = np.float32(2) * x + np.ones(3, dtype=np.float32)     # stays in the graph
    assert isinstance(y, ournn.Tensor) and y.requires_grad
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), 2.0)


# ---------------------------------------------------------------- devices and dtypes
def test_device_idioms_pick_the_cpu():
    def program(torch):
        device = "cuda" if torch.cuda.is_available() else "cpu"
        if torch.backends.mps.is_available():
            device = "mps"
        x = torch.ones(2, 3).to(device)
        model = torch.nn.Linear(3, 2).to(device)
        y = model(x.to(device, torch.float32)).cpu()
        return [str(torch.device(device)), y.shape, x.device.type]

    ours = program(ournn)
    assert ours[0] == "cpu" and tuple(ours[1]) == (2, 2) and ours[2] == "cpu"
    if real_torch is not None and not real_torch.cuda.is_available():
        assert [str(v) for v in program(real_torch)[0:1]] == ["cpu"]
    with pytest.raises(ournn.DeviceError, match="cpu"):
        ournn.ones(2).cuda()


def test_dtype_conversions():
    x = ournn.tensor([1.5, 2.5])
    assert x.double().dtype == np.float64 and x.to(np.float64).dtype == np.float64
    assert x.long().dtype == np.int64 and x.int().dtype == np.int32
    assert x.half().dtype == np.float16 and x.bool().dtype == np.bool_
    assert x.type() == "ournn.FloatTensor" and x.type("torch.DoubleTensor").dtype == np.float64
    assert x.to("cpu") is x and x.to(x) is x
    z = x.new_zeros(2, 3)
    assert z.shape == (2, 3) and z.dtype == np.float32
    assert x.new_tensor([1, 2]).dtype == np.float32 and x.new_full((2,), 7.0)[1].item() == 7.0


# ---------------------------------------------------------------- a training loop
def test_training_loop_with_dataloader_matches_pytorch():
    """A whole PyTorch-style script: TensorDataset, DataLoader, a Module subclass, SGD with
    momentum, zero_grad/backward/step, .item(), eval with no_grad and argmax."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((64, 4))
    Y = (X[:, 0] + X[:, 1] > 0).astype(np.int64)
    w1 = rng.standard_normal((8, 4)) * 0.3
    w2 = rng.standard_normal((2, 8)) * 0.3

    def program(torch):
        from_module = __import__(torch.__name__ + ".utils.data", fromlist=["DataLoader"])
        nn = torch.nn

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc1 = nn.Linear(4, 8, dtype=torch.float64)
                self.fc2 = nn.Linear(8, 2, dtype=torch.float64)

            def forward(self, x):
                return self.fc2(torch.relu(self.fc1(x)))

        model = Net()
        with torch.no_grad():
            model.fc1.weight.copy_(torch.tensor(w1))
            model.fc2.weight.copy_(torch.tensor(w2))
            model.fc1.bias.zero_()
            model.fc2.bias.fill_(0.0)
        data = from_module.TensorDataset(torch.tensor(X), torch.tensor(Y))
        loader = from_module.DataLoader(data, batch_size=16, shuffle=False, num_workers=0)
        opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        loss_fn = nn.CrossEntropyLoss()
        losses = []
        for epoch in range(3):
            model.train()
            for xb, yb in loader:
                opt.zero_grad()
                loss = loss_fn(model(xb), yb)
                loss.backward()
                opt.step()
                losses.append(loss.item())
        model.eval()
        with torch.no_grad():
            correct = (model(torch.tensor(X)).argmax(1) == torch.tensor(Y)).sum().item()
        return [np.array(losses), correct, model.fc1.weight]

    losses, correct, _ = run_both(program, rtol=1e-9, atol=1e-12)
    assert losses[-1] < losses[0] and correct >= 48


# ---------------------------------------------------------------- saving and loading
def test_save_and_load_take_file_objects_and_pytorchs_keywords(tmp_path):
    import io
    model = ournn.nn.Sequential(ournn.nn.Linear(3, 4), ournn.nn.ReLU(), ournn.nn.Linear(4, 2))
    buffer = io.BytesIO()
    ournn.save({"model": model.state_dict(), "epoch": 7}, buffer)
    buffer.seek(0)
    ckpt = ournn.load(buffer, map_location="cpu", weights_only=True)
    assert ckpt["epoch"] == 7 and isinstance(ckpt["model"]["0.weight"], ournn.Tensor)
    again = ournn.nn.Sequential(ournn.nn.Linear(3, 4), ournn.nn.ReLU(), ournn.nn.Linear(4, 2))
    again.load_state_dict(ckpt["model"])
    x = ournn.randn(5, 3)
    np.testing.assert_array_equal(again(x).numpy(), model(x).numpy())
    path = tmp_path / "m.pt"
    with open(path, "wb") as f:
        ournn.save(model.state_dict(), f)
    for where in (None, "cpu", ournn.device("cpu"), {"cuda:0": "cpu"}, lambda s, loc: s):
        with open(path, "rb") as f:
            sd = ournn.load(f, map_location=where)
        assert sd["2.bias"].shape == (2,)
    arrays = ournn.load(path, tensors=False)
    assert isinstance(arrays["0.weight"], np.ndarray)
    with pytest.raises(ournn.DeviceError):
        ournn.load(path, map_location="cuda")
    with pytest.raises(TypeError, match="never pickles"):
        ournn.save(model.state_dict(), tmp_path / "p.pt", pickle_module=object())
    with pytest.raises(ournn.CheckpointError, match="not an ournn checkpoint"):
        ournn.load(io.BytesIO(b"hello, not a checkpoint"))


def test_saving_a_whole_user_module_shows_the_state_dict_way(tmp_path):
    class Net(ournn.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = ournn.nn.Linear(2, 2)

        def forward(self, x):
            return self.fc(x)

    with pytest.raises(ournn.CheckpointError, match=r"state_dict\(\)"):
        ournn.save(Net(), tmp_path / "net.pt")
    ournn.save(Net().state_dict(), tmp_path / "net.pt")         # the way that works
    net = Net()
    net.load_state_dict(ournn.load(tmp_path / "net.pt"))


def test_a_custom_function_written_for_pytorch_runs():
    """The tutorial's custom ReLU: forward and backward use tensor methods."""
    def program(torch):
        class MyReLU(torch.autograd.Function):
            @staticmethod
            def forward(ctx, input):
                ctx.save_for_backward(input)
                return input.clamp(min=0)

            @staticmethod
            def backward(ctx, grad_output):
                input, = ctx.saved_tensors
                grad_input = grad_output.clone()
                grad_input[input < 0] = 0
                return grad_input

        x = torch.tensor([-1.5, 0.5, 2.0, -0.1], dtype=torch.float64, requires_grad=True)
        y = MyReLU.apply(x * 2)
        (y * y).sum().backward()
        return [y, x.grad]

    run_both(program)


def test_small_api_the_survey_of_real_scripts_found():
    def program(torch):
        torch.set_default_device("cpu")
        t = torch.tensor([3, 4])
        ratio = t.sum() * 100 / 7                  # an integer tensor divides to float32
        v = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
        return [ratio, str(ratio.dtype).split(".")[-1], v.data.storage().tolist()]

    ours = program(ournn)
    assert ours[1] == "float32" and ours[2] == [1.0, 2.0, 3.0, 4.0]
    if real_torch is not None:
        with warnings.catch_warnings():       # PyTorch deprecates storage(); scripts use it
            warnings.simplefilter("ignore", UserWarning)
            theirs = program(real_torch)
        assert theirs[1] == ours[1] and theirs[2] == ours[2]
        np.testing.assert_allclose(ours[0].item(), theirs[0].item(), rtol=1e-6)


def test_legacy_tensor_types():
    def program(torch):
        a = torch.LongTensor([1, 2, 3])
        b = torch.FloatTensor(2, 3)
        return [str(a.dtype).split(".")[-1], isinstance(a, torch.LongTensor),
                isinstance(a, torch.FloatTensor), tuple(b.shape), str(b.dtype).split(".")[-1]]

    ours = program(ournn)
    assert ours == ["int64", True, False, (2, 3), "float32"]
    if real_torch is not None:
        assert program(real_torch) == ours
