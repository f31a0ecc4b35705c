"""Module's PyTorch API: to/cpu/cuda/float/double/half/type cast in place (the same Parameter
objects), device=/dtype= on layer constructors, traversal and lookup (children, modules,
get_submodule, get_parameter, named_parameters(prefix, recurse)), apply, nn.utils and the
nn.modules import paths."""
import numpy as np
import pytest

import ournn
import ournn.nn as nn
from helpers import requires_torch, torch as T


def _net():
    ournn.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU(), nn.Flatten(),
                         nn.Linear(8, 3))


def test_to_double_keeps_parameters_and_optimizer():
    net = _net()
    params = list(net.parameters())
    opt = ournn.optim.SGD(net.parameters(), lr=0.1)
    assert net.to(ournn.float64) is net
    assert all(a is b for a, b in zip(params, net.parameters()))
    assert all(p.dtype == np.float64 for p in net.parameters())
    bn = net[1]
    assert bn.running_mean.dtype == np.float64 and bn.running_var.dtype == np.float64
    assert bn.num_batches_tracked.dtype == np.int64          # integer buffers keep their dtype
    x = ournn.tensor(np.random.default_rng(0).standard_normal((4, 1, 4, 4)))
    before = params[-1].numpy().copy()
    out = net(x)
    assert out.dtype == np.float64
    out.sum().backward()
    opt.step()
    assert not np.array_equal(before, params[-1].numpy())


@pytest.mark.parametrize("method,dtype", [("double", np.float64), ("half", np.float16),
                                          ("float", np.float32)])
def test_cast_methods(method, dtype):
    net = _net().double()
    getattr(net, method)()
    assert {p.dtype for p in net.parameters()} == {np.dtype(dtype)}


def test_to_forms_and_errors():
    net = _net()
    assert net.to("cpu") is net and net.cpu() is net
    net.to("cpu", ournn.float64)
    assert net[0].weight.dtype == np.float64
    net.to(device="cpu", dtype=np.float32)
    assert net[0].weight.dtype == np.float32
    net.to(ournn.zeros(1, dtype=ournn.float64))
    assert net[4].weight.dtype == np.float64
    net.type(ournn.float32)
    assert net[4].weight.dtype == np.float32
    net.to(ournn.device("cpu"))
    with pytest.raises(ournn.device.DeviceError if hasattr(ournn.device, "DeviceError")
                       else RuntimeError, match="not available"):
        net.cuda()
    with pytest.raises(RuntimeError, match="not available"):
        net.to("cuda")
    with pytest.raises(TypeError, match="only accepts floating point"):
        net.to(ournn.int64)


def test_grad_is_cast_too():
    lin = nn.Linear(2, 1)
    lin(ournn.ones(1, 2)).sum().backward()
    lin.double()
    assert lin.weight.grad.dtype == np.float64


@pytest.mark.parametrize("make", [
    lambda **k: nn.Linear(3, 2, **k), lambda **k: nn.Conv2d(1, 2, 3, **k),
    lambda **k: nn.Conv1d(1, 2, 3, **k), lambda **k: nn.ConvTranspose2d(1, 2, 3, **k),
    lambda **k: nn.BatchNorm1d(3, **k), lambda **k: nn.BatchNorm2d(3, **k),
    lambda **k: nn.LayerNorm(3, **k), lambda **k: nn.GroupNorm(1, 3, **k),
    lambda **k: nn.PReLU(**k)])
def test_layers_take_device_and_dtype(make):
    assert all(p.dtype == np.float32 for p in make().parameters())
    layer = make(device="cpu", dtype=ournn.float64)
    assert all(p.dtype == np.float64 for p in layer.parameters())
    assert make(device=ournn.device("cpu"), dtype="float16").weight.dtype == np.float16
    with pytest.raises(RuntimeError, match=r"^\w+: device 'cuda' is not available"):
        make(device="cuda")
    with pytest.raises(ValueError, match="dtype must be a floating dtype"):
        make(dtype=ournn.int64)


def test_float64_layer_config_keeps_dtype():
    from ournn.nn.config import module_config, module_from_config
    net = nn.Sequential(nn.Linear(3, 2, dtype=np.float64), nn.LayerNorm(2)).double()
    config = module_config(net)
    assert config["config"]["layers"][0]["config"]["dtype"] == "float64"
    rebuilt = module_from_config(config)
    assert all(p.dtype == np.float64 for p in rebuilt.parameters())
    assert "dtype" not in module_config(nn.Linear(3, 2))["config"]


def test_traversal():
    net = _net()
    assert [n for n, _ in net.named_children()] == ["0", "1", "2", "3", "4"]
    assert len(list(net.children())) == 5 and len(list(net.modules())) == 6
    assert net.get_submodule("4") is net[4] and net.get_submodule("") is net
    assert net.get_parameter("4.bias") is net[4].bias
    assert net.get_buffer("1.running_mean") is net[1].running_mean
    with pytest.raises(AttributeError, match="has no submodule '9'"):
        net.get_submodule("9")
    with pytest.raises(AttributeError, match="has no parameter 'gamma'"):
        net.get_parameter("1.gamma")
    assert list(net.parameters(recurse=False)) == []
    assert [n for n, _ in net[4].named_parameters(prefix="head")] == ["head.weight",
                                                                      "head.bias"]
    assert [n for n, _ in net.named_buffers(prefix="m")][:2] == ["m.1.running_mean",
                                                                 "m.1.running_var"]


def test_add_and_register_module_and_apply():
    m = nn.Module()
    m.add_module("fc", nn.Linear(2, 2))
    m.register_module("act", nn.Tanh())
    m.add_module("nothing", None)
    assert [n for n, _ in m.named_children()] == ["fc", "act"]
    with pytest.raises(KeyError, match="without '.'"):
        m.add_module("a.b", nn.ReLU())
    with pytest.raises(TypeError, match="must be a Module"):
        m.add_module("x", 3)
    seen = []

    def init(mod):
        seen.append(type(mod).__name__)
        if isinstance(mod, nn.Linear):
            nn.init.zeros_(mod.weight)

    assert m.apply(init) is m
    assert seen == ["Linear", "Tanh", "Module"]
    assert not m.fc.weight.numpy().any()


def test_extra_repr_of_new_layers():
    assert "kernel_size=(3,)" in repr(nn.Conv1d(1, 2, 3))
    assert "output_padding=(1, 1)" in repr(nn.ConvTranspose2d(1, 2, 3, 2, output_padding=1))
    assert repr(nn.LayerNorm(4)) == "LayerNorm((4,), eps=1e-05, elementwise_affine=True)"
    assert repr(nn.GroupNorm(2, 4)) == "GroupNorm(2, 4, eps=1e-05, affine=True)"
    assert repr(nn.AdaptiveAvgPool2d(1)) == "AdaptiveAvgPool2d(output_size=1)"


def test_nn_utils_and_module_paths():
    import ournn as torch
    from ournn.nn.modules.conv import Conv2d
    from ournn.nn.modules.loss import _Loss, CrossEntropyLoss
    from ournn.nn.modules.activation import SiLU
    from ournn.nn.modules import Linear
    assert Conv2d is nn.Conv2d and Linear is nn.Linear and SiLU is nn.SiLU
    assert issubclass(CrossEntropyLoss, _Loss)
    assert torch.nn.utils.clip_grad_norm_ is not None
    net = _net()
    vec = torch.nn.utils.parameters_to_vector(net.parameters())
    n = sum(p.numel() for p in net.parameters())
    assert vec.shape == (n,)
    np.testing.assert_array_equal(vec.numpy()[:18], net[0].weight.numpy().ravel())
    vec.sum().backward()
    assert np.all(net[0].weight.grad.numpy() == 1)
    torch.nn.utils.vector_to_parameters(ournn.zeros(n), net.parameters())
    assert not any(p.numpy().any() for p in net.parameters())
    with pytest.raises(ValueError, match="parameters hold"):
        torch.nn.utils.vector_to_parameters(ournn.zeros(n + 1), net.parameters())


@requires_torch
def test_parameters_to_vector_matches_torch():
    ours = nn.Linear(3, 2)
    theirs = T.nn.Linear(3, 2)
    with T.no_grad():
        theirs.weight.copy_(T.tensor(ours.weight.numpy()))
        theirs.bias.copy_(T.tensor(ours.bias.numpy()))
    np.testing.assert_array_equal(
        nn.utils.parameters_to_vector(ours.parameters()).numpy(),
        T.nn.utils.parameters_to_vector(theirs.parameters()).detach().numpy())


def test_reassigning_keeps_order_and_sequential_edits():
    net = _net()
    names = list(net.state_dict())
    net[0].weight = nn.Parameter(ournn.zeros(2, 1, 3, 3))       # replaced in place
    assert list(net.state_dict()) == names
    seq = nn.Sequential(nn.Linear(2, 2), nn.ReLU())
    seq[1] = nn.Tanh()
    seq.append(nn.Linear(2, 1)).insert(1, nn.Identity())
    assert [type(m).__name__ for m in seq] == ["Linear", "Identity", "Tanh", "Linear"]
    assert list(seq.state_dict()) == ["0.weight", "0.bias", "3.weight", "3.bias"]
    del seq[1]
    assert [type(m).__name__ for m in seq] == ["Linear", "Tanh", "Linear"]
    pl = nn.ParameterList([ournn.zeros(1), ournn.zeros(2)])
    pl[0] = nn.Parameter(ournn.ones(3))
    assert [tuple(p.shape) for _, p in pl.named_parameters()] == [(3,), (2,)]
