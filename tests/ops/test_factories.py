"""Tensor factories with PyTorch's signatures: sizes as varargs or a tuple, dtype/device/
requires_grad, the dtype PyTorch infers, repeatable randomness through ournn.manual_seed and
ournn.Generator, and the shapes and values PyTorch gives."""
import numpy as np
import pytest

import ournn
from helpers import requires_torch, torch
from ournn.device import DeviceError

T = torch


@pytest.mark.parametrize("name", ["zeros", "ones", "empty", "rand", "randn"])
def test_sized_factories_take_varargs_tuple_list_and_size(name):
    f = getattr(ournn, name)
    for args in [(2, 3), ((2, 3),), ([2, 3],), (ournn.Size([2, 3]),)]:
        t = f(*args)
        assert t.shape == (2, 3) and t.dtype == np.float32 and not t.requires_grad
    assert f(()).shape == () and f(0).shape == (0,)
    t = f(4, dtype=ournn.float64, device="cpu", requires_grad=True)
    assert t.dtype == np.float64 and t.requires_grad and t.is_leaf
    with pytest.raises(DeviceError, match="not available"):
        f(2, device="cuda")


def test_integer_factories_cannot_require_grad():
    with pytest.raises(ournn.DTypeError):
        ournn.zeros(2, dtype=ournn.long, requires_grad=True)
    assert ournn.zeros(2, dtype=ournn.long).tolist() == [0, 0]


@pytest.mark.parametrize("args,kwargs", [
    ((5,), {}), ((1, 4), {}), ((0, 10, 3), {}), ((10, 0, -3), {}), ((0, 1, 0.1), {}),
    ((0.5, 3), {}), ((-1.0, 1.0, 0.25), {}), ((5,), {"dtype": "float64"}),
    ((0, 1, 0.3), {"dtype": "float64"}), ((3,), {"dtype": "int32"})])
def test_arange_values_and_dtype_match_pytorch(args, kwargs):
    ours = ournn.arange(*args, **{k: getattr(ournn, v) for k, v in kwargs.items()})
    if T:
        theirs = torch.arange(*args, **{k: getattr(torch, v) for k, v in kwargs.items()})
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)
        assert str(ours.dtype) == str(theirs.dtype).replace("torch.", "")
    assert ours.ndim == 1


def test_arange_keywords_and_errors():
    assert ournn.arange(start=2, end=5).tolist() == [2, 3, 4]
    assert ournn.arange(4, requires_grad=False, dtype=ournn.float32).dtype == np.float32
    with pytest.raises(ValueError, match="step"):
        ournn.arange(0, 3, 0)


@requires_torch
@pytest.mark.parametrize("name,args", [("linspace", (0, 1, 5)), ("linspace", (-2, 3.5, 7)),
                                       ("linspace", (1, 1, 1)), ("logspace", (0, 2, 3)),
                                       ("logspace", (-1, 1, 4))])
def test_linspace_logspace(name, args):
    ours = getattr(ournn, name)(*args)
    theirs = getattr(torch, name)(*args)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)
    assert ours.dtype == np.float32
    assert ournn.logspace(0, 3, 4, base=2).tolist() == [1, 2, 4, 8]


@pytest.mark.parametrize("value,dtype", [(1.5, np.float32), (3, np.int64), (True, np.bool_)])
def test_full_infers_dtype_from_value(value, dtype):
    t = ournn.full((2, 3), value)
    assert t.shape == (2, 3) and t.dtype == dtype and (t.numpy() == value).all()
    if T:
        assert str(torch.full((2, 3), value).dtype).replace("torch.", "") == np.dtype(dtype).name
    assert ournn.full([2], value, dtype=ournn.float64).dtype == np.float64


def test_eye():
    assert ournn.eye(3).tolist() == np.eye(3).tolist()
    assert ournn.eye(2, 3, dtype=ournn.long).tolist() == [[1, 0, 0], [0, 1, 0]]


@pytest.mark.parametrize("name", ["zeros_like", "ones_like", "empty_like", "rand_like",
                                  "randn_like"])
def test_like_factories_keep_shape_and_dtype(name):
    src = ournn.ones(2, 3, dtype=ournn.float64, requires_grad=True)
    t = getattr(ournn, name)(src)
    assert t.shape == (2, 3) and t.dtype == np.float64 and not t.requires_grad
    t = getattr(ournn, name)(src, dtype=ournn.float32, requires_grad=True)
    assert t.dtype == np.float32 and t.requires_grad
    with pytest.raises(DeviceError):
        getattr(ournn, name)(src, device="mps")


def test_full_like_and_zeros_like_values():
    src = ournn.tensor([[1, 2]])
    assert ournn.full_like(src, 7).tolist() == [[7, 7]] and ournn.full_like(src, 7).dtype == np.int64
    assert ournn.zeros_like(src).tolist() == [[0, 0]] and ournn.ones_like(src).dtype == np.int64
    with pytest.raises(ournn.DTypeError):
        ournn.rand_like(src)


RANDOM = [
    ("rand", lambda **k: ournn.rand(3, 4, **k)),
    ("randn", lambda **k: ournn.randn((3, 4), **k)),
    ("randint", lambda **k: ournn.randint(0, 10, (3, 4), **k)),
    ("randint_high", lambda **k: ournn.randint(5, (6,), **k)),
    ("randperm", lambda **k: ournn.randperm(10, **k)),
    ("normal", lambda **k: ournn.normal(2.0, 3.0, (3, 4), **k)),
    ("normal_tensors", lambda **k: ournn.normal(ournn.zeros(3), ournn.ones(3), **k)),
    ("bernoulli", lambda **k: ournn.bernoulli(ournn.full((3, 4), 0.5), **k)),
    ("multinomial", lambda **k: ournn.multinomial(ournn.tensor([0.2, 0.3, 0.5]), 2, **k)),
    ("rand_like", lambda **k: ournn.rand_like(ournn.zeros(3), **k)),
    ("randint_like", lambda **k: ournn.randint_like(ournn.zeros(3), 4, **k)),
]


@pytest.mark.parametrize("name,draw", RANDOM)
def test_random_factories_are_repeatable_with_manual_seed_and_a_generator(name, draw):
    ournn.manual_seed(0)
    a = draw().numpy().copy()
    ournn.manual_seed(0)
    b = draw().numpy()
    np.testing.assert_array_equal(a, b)
    g = ournn.Generator().manual_seed(123)
    c = draw(generator=g).numpy().copy()
    g.manual_seed(123)
    ournn.manual_seed(99)                        # the generator's stream is its own
    np.testing.assert_array_equal(c, draw(generator=g).numpy())


def test_random_factories_values():
    ournn.manual_seed(1)
    r = ournn.randint(3, 7, (1000,))
    assert r.dtype == np.int64 and r.min().item() >= 3 and r.max().item() <= 6
    assert set(r.tolist()) == {3, 4, 5, 6}
    p = ournn.randperm(20)
    assert sorted(p.tolist()) == list(range(20)) and p.dtype == np.int64
    x = ournn.rand(10000)
    assert 0 <= x.min().item() and x.max().item() < 1 and abs(x.mean().item() - 0.5) < 0.02
    n = ournn.normal(2.0, 3.0, (20000,))
    assert abs(n.mean().item() - 2) < 0.1 and abs(n.std().item() - 3) < 0.1
    n2 = ournn.normal(ournn.tensor([0.0, 100.0]), 1e-3)
    assert n2.shape == (2,) and abs(n2[1].item() - 100) < 0.1
    b = ournn.bernoulli(ournn.tensor([0.0, 1.0, 1.0]))
    assert b.tolist() == [0, 1, 1] and b.dtype == np.float32
    m = ournn.multinomial(ournn.tensor([[0.0, 1.0, 0.0], [0.0, 0.0, 5.0]]), 1)
    assert m.tolist() == [[1], [2]]
    perm = ournn.multinomial(ournn.ones(5), 5)
    assert sorted(perm.tolist()) == [0, 1, 2, 3, 4]
    with pytest.raises(ValueError, match="without replacement"):
        ournn.multinomial(ournn.tensor([1.0, 0.0]), 2)
    assert ournn.multinomial(ournn.tensor([1.0, 0.0]), 3, replacement=True).tolist() == [0, 0, 0]


def test_randint_dtype_and_size_errors():
    assert ournn.randint(0, 3, (2,), dtype=ournn.int32).dtype == np.int32
    with pytest.raises(TypeError, match="tuple"):
        ournn.randint(0, 3)


def test_generator_api():
    g = ournn.Generator()
    assert g.manual_seed(5) is g and g.initial_seed() == 5
    state = g.get_state()
    a = ournn.rand(3, generator=g).numpy().copy()
    g.set_state(state)
    np.testing.assert_array_equal(a, ournn.rand(3, generator=g).numpy())
    with pytest.raises(TypeError, match="Generator"):
        ournn.rand(2, generator=5)
    ournn.manual_seed(7)
    assert ournn.initial_seed() == 7


def test_tensor_as_tensor_from_numpy():
    arr = np.arange(3.0)
    t = ournn.tensor(arr, dtype=ournn.float32, requires_grad=True)
    assert t.dtype == np.float32 and t.requires_grad
    copy = ournn.tensor(arr)
    copy.numpy()[0] = 9
    assert arr[0] == 0                                  # tensor() copies
    shared = ournn.as_tensor(arr)
    shared.numpy()[0] = 5
    assert arr[0] == 5                                  # as_tensor shares an array
    assert ournn.as_tensor(shared) is shared
    assert ournn.as_tensor([1, 2]).dtype == np.int64
    assert ournn.as_tensor(arr, dtype=ournn.float32).dtype == np.float32
    f = ournn.from_numpy(arr)
    f.numpy()[1] = 7
    assert arr[1] == 7
    with pytest.raises(TypeError, match="ndarray"):
        ournn.from_numpy([1, 2])
    assert ournn.tensor(True).dtype == np.bool_ and ournn.tensor(3).dtype == np.int64
    assert ournn.tensor([[1.0, 2.0]], device="cpu").shape == (1, 2)
    with pytest.raises(DeviceError):
        ournn.tensor([1.0], device="cuda:0")
    assert ournn.is_tensor(t) and ournn.numel(ournn.zeros(2, 3)) == 6
