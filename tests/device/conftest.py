"""The stand-in device: ``"cuda"`` is made to mean the array_api_strict virtual devices of
``standin.py`` for every test in this folder (``cuda:0`` is ``device1``, ``cuda:1``
``device2``), so the device paths run without a GPU. Without array_api_strict the tests skip."""
import importlib

import pytest

try:
    import standin
except ImportError:  # pragma: no cover
    standin = None

D = importlib.import_module("ournn.device")    # the module (ournn.device is the class)


def _entry():
    def to_device(array, index):
        with standin.use_device(index):
            return standin.xp.asarray(array)
    return D._Backend(standin.xp, standin.StandInArray, to_device, standin.xp.asnumpy,
                      lambda a: standin.DEVICES.index(a.device), count=2,
                      name="array-api-strict stand-in")


@pytest.fixture(autouse=True)
def standin_cuda():
    """Register the stand-in as "cuda" for the test, and forget it afterwards."""
    if standin is None or standin.array_api_strict is None:
        pytest.skip("array_api_strict is not installed (pip install array-api-strict)")
    previous = D._register_backend("cuda", _entry())
    try:
        yield standin
    finally:
        D._register_backend("cuda", previous)
