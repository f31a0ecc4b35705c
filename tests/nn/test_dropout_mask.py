"""Dropout's keep mask: the right probability whichever way it is drawn (random bytes when
1 - p is a whole number of 256ths, float32 draws otherwise)."""
import numpy as np
import pytest

import ournn
import ournn.nn.functional as F


@pytest.mark.parametrize("p", [0.5, 0.25, 0.125, 0.3, 0.1, 0.9])
def test_dropout_keeps_each_element_with_probability_one_minus_p(p):
    ournn.manual_seed(0)
    x = ournn.ones(400, 1000)
    y = F.dropout(x, p).numpy()
    kept = y != 0
    n = kept.size
    assert abs(kept.mean() - (1 - p)) < 5 * np.sqrt(p * (1 - p) / n)     # 5 sigma
    np.testing.assert_allclose(y[kept], 1 / (1 - p), rtol=1e-6)          # inverted scaling


def test_dropout_masks_follow_the_seed():
    out = []
    for _ in range(2):
        ournn.manual_seed(3)
        out.append([F.dropout(ournn.ones(50, 50), p).numpy() for p in (0.5, 0.3)])
    for a, b in zip(*out):
        np.testing.assert_array_equal(a, b)
