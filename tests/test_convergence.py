"""Order fitting of pmm_sde.convergence against scipy's linear regression."""

import math

import numpy as np
from scipy import stats

from pmm_sde.convergence import fit_order


def test_fit_order_is_the_log_log_regression_with_its_t_interval():
    steps, D = [8, 16, 32, 64, 128], [1e-1, 5.2e-2, 2.4e-2, 1.26e-2, 6.1e-3]
    fit = fit_order(steps, D, [0.0] * 5)
    reference = stats.linregress(np.log(steps), np.log(D))
    assert math.isclose(fit.slope, -reference.slope, rel_tol=1e-12)
    assert math.isclose(fit.stderr, reference.stderr, rel_tol=1e-9)
    half = stats.t.ppf(0.975, 3) * reference.stderr
    np.testing.assert_allclose(fit.interval, (-reference.slope - half, -reference.slope + half), rtol=1e-9)


def test_fit_order_leaves_out_differences_within_the_noise():
    fit = fit_order([8, 16, 32, 64], [1e-1, 2.5e-2, 6.3e-3, 1e-4], [1e-3, 1e-3, 1e-3, 1e-3], min_z=5.0)
    assert fit.used == [True, True, True, False]
    assert abs(fit.slope - 2.0) < 0.01
    assert math.isnan(fit_order([8, 16], [1e-1, 1e-4], [1e-3, 1e-3]).slope)
