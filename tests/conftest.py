import os
import pathlib

import pytest

import ournn

ROOT = pathlib.Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
# Tests read the real datasets from ../shared/data and never touch the network.
if "OURNN_DATA" not in os.environ and SHARED_DATA.is_dir():
    os.environ["OURNN_DATA"] = str(SHARED_DATA)


@pytest.fixture(autouse=True)
def _seed():
    ournn.manual_seed(0)
    yield
