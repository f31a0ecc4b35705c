"""Tensors on the stand-in device (``"cuda"`` here, see conftest.py): dispatch on the array
itself, moves to and from the device, the device a tensor reports, the errors."""
import importlib

import numpy as np
import pytest

pytest.importorskip("array_api_strict")

import ournn  # noqa: E402
from ournn.backend import get_array_module  # noqa: E402
from ournn.ops import tensor_namespace  # noqa: E402

import standin  # noqa: E402

D = importlib.import_module("ournn.device")


def test_dispatch_is_on_the_array_itself():
    a = standin.xp.ones(3)
    assert get_array_module(a) is standin.xp          # a raw device array, not by its .data
    assert get_array_module(np.ones(3), a) is standin.xp
    assert get_array_module(np.ones(3), 2.0) is np
    assert get_array_module(ournn.ones(2)) is tensor_namespace
    assert get_array_module(np.float32(1), None, [1, 2]) is np


def test_the_stand_in_refuses_numpy_as_cupy_does():
    a = standin.xp.ones(3)
    for bad in (lambda: np.asarray(a), lambda: np.exp(a), lambda: np.ones(3) + a,
                lambda: a + np.ones(3), lambda: np.concatenate([a, a]),
                lambda: standin.xp.add(a, np.ones(3))):
        with pytest.raises(TypeError):
            bad()
    with standin.use_device(1):
        b = standin.xp.ones(3)
    with pytest.raises(ValueError, match="two devices"):
        a + b
    assert float((a * np.float32(2)).sum()) == 6.0


def test_a_tensor_wraps_a_device_array_without_numpy():
    a = standin.xp.arange(6, dtype=np.float32).reshape(2, 3)
    t = ournn.tensor(a)
    assert t.device == ournn.device("cuda:0") and t.is_cuda and t.dtype == np.float32
    assert ournn.Tensor(a, requires_grad=True).device.type == "cuda"
    assert "device='cuda:0'" in repr(t)


def test_to_cuda_and_back_keeps_values_and_gradients():
    x = ournn.randn(3, 4, requires_grad=True)
    for xd in (x.to("cuda"), x.cuda(), x.to(ournn.device("cuda", 0)), x.to(0)):
        assert xd.device == "cuda" and isinstance(xd._data, standin.StandInArray)
    xd = x.cuda()
    y = (xd * 2 + 1).tanh().sum()
    y.backward()
    assert x.grad.device == "cpu"
    ref = ournn.randn(1)   # (unused) the generator moves on as on the CPU
    del ref
    x2 = ournn.tensor(x.detach().numpy().copy(), requires_grad=True)
    (x2 * 2 + 1).tanh().sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), x2.grad.numpy(), rtol=1e-6)
    back = xd.cpu()
    assert back.device == "cpu" and np.array_equal(back.detach().numpy(), x.detach().numpy())
    assert xd.to("cuda") is xd and x.to("cpu") is x


def test_numpy_of_a_device_tensor_says_cpu_first():
    t = ournn.ones(2, device="cuda")
    with pytest.raises(TypeError, match=r"\.cpu\(\)"):
        t.numpy()
    with pytest.raises(TypeError, match=r"\.cpu\(\)"):
        np.asarray(t)
    assert t.tolist() == [1.0, 1.0] and t.sum().item() == 2.0


def test_mixing_devices_in_one_op_names_both():
    a = ournn.ones(3, device="cuda")
    with pytest.raises(ournn.DeviceError, match="cpu and cuda:0|cuda:0 and cpu"):
        a + ournn.ones(3)
    with pytest.raises(ournn.DeviceError, match="cuda:0 and cuda:1"):
        a * ournn.ones(3, device="cuda:1")
    with pytest.raises(ournn.DeviceError, match="cuda:0 and cpu"):
        a @ ournn.ones(3, 2)


def test_cuda_is_available_with_the_device_and_says_why_without():
    assert ournn.cuda.is_available() and ournn.cuda.device_count() == 2
    D._register_backend("cuda", None)
    D._BACKENDS.pop("cuda", None)
    try:
        cupy_installed = importlib.util.find_spec("cupy") is not None
        if not cupy_installed:
            assert not ournn.cuda.is_available() and ournn.cuda.device_count() == 0
            with pytest.raises(ournn.DeviceError) as e:
                ournn.ones(2).to("cuda")
            line = str(e.value)
            assert "\n" not in line and "CuPy is not installed" in line
            assert "pip install cupy-cuda12x" in line
    finally:
        D._BACKENDS.pop("cuda", None)


def test_model_to_cuda_moves_parameters_and_buffers_in_place():
    model = ournn.nn.Sequential(ournn.nn.Linear(3, 4), ournn.nn.BatchNorm1d(4),
                                ournn.nn.ReLU(), ournn.nn.Linear(4, 2))
    params = list(model.parameters())
    assert model.to("cuda") is model and list(model.parameters()) == params
    for t in list(model.parameters()) + [model[1].running_mean]:
        assert isinstance(getattr(t, "_data", t), standin.StandInArray)
    assert all(p.device == "cuda:0" for p in model.parameters())
    model.cpu()
    assert all(type(p._data) is np.ndarray for p in model.parameters())
    assert type(model[1].running_var) is np.ndarray or model[1].running_var.device == "cpu"
    model.cuda()
    sd = model.state_dict()
    cpu_model = ournn.nn.Sequential(ournn.nn.Linear(3, 4), ournn.nn.BatchNorm1d(4),
                                    ournn.nn.ReLU(), ournn.nn.Linear(4, 2))
    cpu_model.load_state_dict(sd)                     # device weights onto a CPU model
    model.load_state_dict(cpu_model.state_dict())     # and back
    np.testing.assert_array_equal(cpu_model[0].weight.detach().numpy(),
                                  model[0].weight.cpu().detach().numpy())
