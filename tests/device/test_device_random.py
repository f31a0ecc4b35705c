"""The random factories on the stand-in device draw there, from the device's generator
(seeded by ``manual_seed``; the CPU's stream untouched), using only what CuPy's generator
has; with ``generator=`` they draw on the host and copy once."""
import numpy as np
import pytest

pytest.importorskip("array_api_strict")

import ournn  # noqa: E402
import standin  # noqa: E402

DRAWS = {
    "rand": lambda: ournn.rand(400, device="cuda"),
    "randn": lambda: ournn.randn(20, 20, device="cuda", dtype="float64"),
    "randint": lambda: ournn.randint(3, 9, (400,), device="cuda"),
    "randperm": lambda: ournn.randperm(50, device="cuda"),
    "normal": lambda: ournn.normal(2.0, 0.5, (400,), device="cuda"),
    "normal_tensors": lambda: ournn.normal(ournn.zeros(400, device="cuda"),
                                           ournn.ones(400, device="cuda")),
    "rand_like": lambda: ournn.rand_like(ournn.zeros(400, device="cuda")),
    "randn_like": lambda: ournn.randn_like(ournn.zeros(400, device="cuda")),
    "randint_like": lambda: ournn.randint_like(ournn.zeros(400, device="cuda"), 5),
    "bernoulli": lambda: ournn.bernoulli(ournn.full((400,), 0.3, device="cuda")),
    "multinomial": lambda: ournn.multinomial(ournn.tensor([[1.0, 0, 3], [2, 2, 0]]).cuda(), 2),
    "multinomial_repl": lambda: ournn.multinomial(ournn.tensor([1.0, 0, 3]).cuda(), 400, True),
    "normal_": lambda: ournn.zeros(400, device="cuda").normal_(1.0, 2.0),
    "init.normal_": lambda: ournn.nn.init.normal_(ournn.zeros(400, device="cuda"), 1.0, 2.0),
    "init.xavier_normal_": lambda: ournn.nn.init.xavier_normal_(ournn.zeros(20, 20,
                                                                            device="cuda")),
    "init.kaiming_normal_": lambda: ournn.nn.init.kaiming_normal_(ournn.zeros(20, 20,
                                                                              device="cuda")),
    "init.uniform_": lambda: ournn.nn.init.uniform_(ournn.zeros(400, device="cuda"), -1, 1),
}


@pytest.mark.parametrize("name", sorted(DRAWS))
def test_drawn_on_the_device_from_its_generator(name, monkeypatch):
    ournn.manual_seed(11)
    cpu_state = ournn.random.get_state()
    a = DRAWS[name]()
    assert a.device == "cuda" and isinstance(a._data, standin.StandInArray)
    assert ournn.random.get_state() == cpu_state         # the CPU's stream untouched
    ournn.manual_seed(11)
    b = DRAWS[name]()
    np.testing.assert_array_equal(a.cpu().numpy(), b.cpu().numpy())   # seeded


def test_the_draws_have_their_distributions():
    ournn.manual_seed(0)
    u = ournn.rand(20000, device="cuda").cpu().numpy()
    assert u.dtype == np.float32 and 0 <= u.min() and u.max() < 1 and abs(u.mean() - 0.5) < 0.01
    z = ournn.normal(2.0, 0.5, (20000,), device="cuda").cpu().numpy()
    assert abs(z.mean() - 2) < 0.02 and abs(z.std() - 0.5) < 0.02
    k = ournn.randint(3, 9, (20000,), device="cuda").cpu().numpy()
    assert k.dtype == np.int64 and set(np.unique(k)) == set(range(3, 9))
    p = ournn.randperm(50, device="cuda").cpu().numpy()
    assert sorted(p.tolist()) == list(range(50))
    m = ournn.multinomial(ournn.tensor([[1.0, 0, 3], [2, 2, 0]]).cuda(), 2).cpu().numpy()
    assert m.shape == (2, 2) and sorted(m[0]) == [0, 2] and sorted(m[1]) == [0, 1]
    r = ournn.multinomial(ournn.tensor([1.0, 0, 3]).cuda(), 20000, True).cpu().numpy()
    counts = np.bincount(r, minlength=3) / 20000
    np.testing.assert_allclose(counts, [0.25, 0, 0.75], atol=0.015)
    b = ournn.bernoulli(ournn.full((20000,), 0.3, device="cuda")).cpu().numpy()
    assert abs(b.mean() - 0.3) < 0.015


def test_multinomial_on_the_device_refuses_what_the_cpu_refuses():
    with pytest.raises(ValueError, match="non-negative"):
        ournn.multinomial(ournn.tensor([1.0, -1.0]).cuda(), 1)
    with pytest.raises(ValueError, match="without replacement"):
        ournn.multinomial(ournn.tensor([1.0, 0.0]).cuda(), 2)


def test_an_explicit_generator_draws_on_the_host_as_on_the_cpu():
    g = ournn.Generator().manual_seed(5)
    on_cpu = ournn.randn(10, generator=g).numpy()
    g.manual_seed(5)
    on_dev = ournn.randn(10, generator=g, device="cuda")
    assert on_dev.device == "cuda"
    np.testing.assert_array_equal(on_dev.cpu().numpy(), on_cpu)


def test_the_stand_in_generator_has_cupys_methods_only():
    g = standin.xp.random.default_rng(0)
    g.standard_normal(3)
    for name in ("normal", "permutation", "choice"):
        with pytest.raises(AttributeError):
            getattr(g, name)
