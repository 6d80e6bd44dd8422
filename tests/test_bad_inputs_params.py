"""Bad model parameters (families, targets, processes, Cox and Brownian solvers, metrics, the
testing kit) raise a ValueError naming the parameter; none gives a silent wrong answer."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

import pmm_sde as pmm
from pmm_sde import metrics
from pmm_sde import targets as tg
from pmm_sde.solvers import EulerMaruyama, Thinning
from pmm_sde.testing import assert_moments, assert_same_law
from pmm_sde.testing import strategies as pst

F64 = torch.float64
NAN, INF = math.nan, math.inf
NN, GP, DC = pmm.NormalNormal, pmm.GammaPoisson, pmm.DirichletCategorical
LINEAR = pmm.schedules.Linear(10.0)
X = torch.randn(20, 2, generator=torch.Generator().manual_seed(0), dtype=F64)
POINTS = tg.PointMasses([0.5, 0.5], [1.0, 2.0])


def run(process, solver="pmm_chain", dtype=F64, **kwargs):
    kwargs.setdefault("steps", 2)
    kwargs.setdefault("n", 4)
    return pmm.sample(process, solver, dtype=dtype, **kwargs).mu


def normal_process(family=None, target=None):
    family = family or NN()
    return pmm.NormalNormalSDE(family, LINEAR, (target or tg.Gaussian()).predictor(family))


def cox_process(family=None, target=None, schedule=LINEAR):
    family = family or GP()
    return pmm.GammaPoissonCoxSDE(family, schedule, (target or tg.Gamma()).predictor(family))


class Bounded:
    """A predictor xhat = 1 declaring the bound ``xhat_max``."""

    def __init__(self, bound):
        self.xhat_max = bound

    def __call__(self, mu, A):
        return torch.ones_like(mu)


BAD = {
    # kinds that are not real numbers
    "complex mean": (lambda: NN(mean=1 + 2j), "mean.*complex"),
    "complex tensor mean": (lambda: NN(mean=torch.tensor([1 + 2j])), "mean.*complex"),
    "complex array mean": (lambda: NN(mean=np.array([1 + 1j])), "mean.*complex128"),
    "bool mean": (lambda: NN(mean=True), "mean.*bool"),
    "bool tensor mean": (lambda: NN(mean=torch.tensor([True, False])), "mean.*bool"),
    "bool precision": (lambda: NN(precision=True), "precision.*bool"),
    "None mean": (lambda: NN(mean=None), "mean"),
    "str mean": (lambda: NN(mean="1"), "mean"),
    "list of str mean": (lambda: NN(mean=["a"]), "mean"),
    "empty mean": (lambda: NN(mean=torch.empty(0)), "mean must not be empty"),
    "bool concentration": (lambda: GP(concentration=True), "concentration.*bool"),
    "complex rate": (lambda: GP(rate=1 + 0j), "rate.*complex"),
    "None concentration": (lambda: GP(concentration=None), "concentration"),
    "empty rate": (lambda: GP(rate=torch.empty(0)), "rate must not be empty"),
    "bool dirichlet concentration": (lambda: DC(3, concentration=True), "concentration.*bool"),
    "complex dirichlet concentration": (lambda: DC(3, concentration=1j), "concentration.*complex"),
    "empty dirichlet concentration": (lambda: DC(3, concentration=torch.empty(0)), "concentration must not be empty"),
    # num_classes
    "num_classes None": (lambda: DC(None), "num_classes must be an integer >= 2"),
    "num_classes nan": (lambda: DC(NAN), "num_classes must be an integer >= 2"),
    "num_classes inf": (lambda: DC(INF), "num_classes must be an integer >= 2"),
    "num_classes 1": (lambda: DC(1), "num_classes must be an integer >= 2"),
    "num_classes 2.5": (lambda: DC(2.5), "num_classes"),
    "num_classes str": (lambda: DC("3"), "num_classes"),
    "num_classes bool": (lambda: DC(True), "num_classes"),
    # shapes of family parameters
    "mean (3,) precision (2,)": (lambda: NN(mean=[1.0, 2, 3], precision=[1.0, 2]),
                                 r"mean and precision must broadcast.*\(3,\).*\(2,\)"),
    "concentration (3,) rate (2,)": (lambda: GP(concentration=[1.0, 2, 3], rate=[1.0, 2]),
                                     r"concentration and rate must broadcast.*\(3,\).*\(2,\)"),
    # casts that overflow or underflow
    "rate 1e39 in float32": (lambda: run(cox_process(GP(rate=1e39)), "tau_leap", torch.float32),
                             "rate .*overflows float32; use dtype=torch.float64"),
    "concentration 1e39 in float32": (lambda: run(cox_process(GP(concentration=1e39)), "tau_leap", torch.float32),
                                      "concentration .*overflows float32"),
    "precision 1e300 in float32": (lambda: run(normal_process(NN(precision=1e300)), dtype=torch.float32),
                                   "precision .*overflows float32"),
    "precision * mean overflows float32": (lambda: run(normal_process(NN(mean=1e20, precision=1e20)),
                                                       dtype=torch.float32), r"precision \* mean overflows float32"),
    "precision * mean overflows float64": (lambda: NN(mean=torch.tensor(1e200, dtype=F64),
                                              precision=torch.tensor(1e200, dtype=F64)),
                                           r"precision \* mean overflows float64"),
    "precision 1e-50 in float32": (lambda: run(normal_process(NN(precision=1e-50)), dtype=torch.float32),
                                   "precision .*underflows to 0 in float32"),
    "dirichlet concentration 1e39 in float32": (
        lambda: DC(3, 1e39).cast(torch.zeros((), dtype=torch.float32)), "concentration .*overflows float32"),
    "dirichlet total concentration overflows float32": (
        lambda: DC(3, 2e38).cast(torch.zeros((), dtype=torch.float32)), r"concentration.sum\(-1\).*overflows float32"),
    "target mean 1e39 in float32": (lambda: run(normal_process(target=tg.Gaussian(mean=1e39)), dtype=torch.float32),
                                    "mean .*overflows float32"),
    "target rate 1e-50 in float32": (lambda: run(cox_process(target=tg.Gamma(rate=1e-50)), "tau_leap", torch.float32),
                                     "rate .*underflows to 0 in float32"),
    # targets
    "target complex mean": (lambda: tg.Gaussian(mean=1j), "mean.*complex"),
    "target bool std": (lambda: tg.Gaussian(std=True), "std.*bool"),
    "target empty mean": (lambda: tg.Gaussian(mean=torch.empty(0)), "mean must not be empty"),
    "Gaussian mean (3,) std (2,)": (lambda: tg.Gaussian(mean=[1.0, 2, 3], std=[1.0, 2]),
                                    r"mean and std must broadcast.*\(3,\).*\(2,\)"),
    "Gamma concentration (3,) rate (2,)": (lambda: tg.Gamma([1.0, 2, 3], [1.0, 2]),
                                           r"concentration and rate must broadcast"),
    "Gamma bool concentration": (lambda: tg.Gamma(True), "concentration.*bool"),
    "mixture means (2, 2) stds (3, 2)": (lambda: tg.GaussianMixture([0.5, 0.5], torch.zeros(2, 2), torch.ones(3, 2)),
                                         r"means and stds must broadcast.*\(2, 2\).*\(3, 2\)"),
    "mixture means (3, 1) for 2 weights": (lambda: tg.GaussianMixture([0.5, 0.5], torch.zeros(3, 1), torch.ones(3, 1)),
                                           "leading axis of size K=2 .the length of weights"),
    "mixture bool weights": (lambda: tg.GaussianMixture(torch.tensor([True]), torch.zeros(1, 1), torch.ones(1, 1)),
                             "weights.*bool"),
    "mixture complex weights": (lambda: tg.GaussianMixture(torch.tensor([0.5 + 0j, 0.5]), torch.zeros(2, 1),
                                                           torch.ones(2, 1)), "weights.*complex"),
    "gamma mixture concentrations (2, 2) rates (3, 2)": (
        lambda: tg.GammaMixture([0.5, 0.5], torch.ones(2, 2), torch.ones(3, 2)),
        "concentrations and rates must broadcast"),
    "categorical bool probs": (lambda: tg.Categorical(torch.tensor([True, False])), "probs.*bool"),
    "categorical empty probs": (lambda: tg.Categorical(torch.empty(2, 0)), "probs must not be empty"),
    "categorical probs on the wrong axis": (lambda: tg.Categorical(torch.tensor([[0.5, 0.5, 0.0], [0.5, 0.5, 1.0]])),
                                            "probs must hold probability vectors on its last axis"),
    "point masses complex values": (lambda: tg.PointMasses([1.0], [1j]), "values.*complex"),
    "point masses bool values": (lambda: tg.PointMasses([1.0], torch.tensor([True])), "values.*bool"),
    "target sample of -1 points": (lambda: tg.Gaussian().sample(-1), "n must be an integer >= 1"),
    "target sample of 0 points": (lambda: tg.Categorical([0.5, 0.5]).sample(0), "n must be an integer >= 1"),
    "target sample of None points": (lambda: tg.GammaMixture([1.0], [1.0], [1.0]).sample(None), "n must be an integer"),
    "target sample of 2.5 points": (lambda: tg.PointMasses([1.0], [1.0]).sample(2.5), "n must be an integer"),
    "target sample of True points": (lambda: tg.Gamma().sample(True), "n must be an integer"),
    # targets against families
    "Categorical K=3 for num_classes=4": (lambda: tg.Categorical([0.2, 0.3, 0.5]).predictor(DC(4)),
                                          r"family: num_classes=4.*3 classes"),
    "Categorical K=1 for num_classes=2": (lambda: tg.Categorical([1.0]).predictor(DC(2)), "family: num_classes=2"),
    "PointMasses K=3 for num_classes=2": (lambda: tg.PointMasses([1.0], [[0.2, 0.3, 0.5]]).predictor(DC(2)),
                                          r"family: num_classes=2.*3 classes"),
    "Gaussian (2,) for a family of shape (3,)": (lambda: tg.Gaussian(mean=[0.0, 0.0]).predictor(NN(mean=[0.0, 0, 0])),
                                                 r"family: its parameters have shape \(3,\).*data shape \(2,\)"),
    "mixture (2,) for a family of shape (3,)": (
        lambda: tg.GaussianMixture([1.0], torch.zeros(1, 2), torch.ones(1, 2)).predictor(NN(mean=[0.0, 0, 0])),
        r"family: its parameters have shape \(3,\), which does not broadcast to"),
    "predictor of a family class": (lambda: tg.Gaussian().predictor(NN), "family: .*not for the class NormalNormal"),
    "Gamma target for NormalNormal": (lambda: tg.Gamma().predictor(NN()),
                                      "family: Gamma has an oracle for GammaPoisson"),
    "negative information in sample_state": (lambda: NN().sample_state(torch.zeros(3, 2), torch.tensor(-1.0)),
                                             "A must be finite and >= 0"),
    "NaN information in sample_state": (lambda: pmm.GammaPoisson().sample_state(torch.ones(3), float("nan")),
                                        "A must be finite and >= 0"),
    # processes
    "Cox process of a NormalNormal": (lambda: pmm.GammaPoissonCoxSDE(NN(), LINEAR, tg.Gaussian().predictor(NN())),
                                      "family must be a GammaPoisson or DirichletCategorical instance"),
    "process of a family class": (lambda: pmm.NormalNormalSDE(NN, LINEAR, tg.Gaussian().predictor(NN())),
                                  "family must be a NormalNormal instance.*the class NormalNormal"),
    "Brownian process of a GammaPoisson": (lambda: pmm.NormalNormalSDE(pmm.GammaPoisson(), LINEAR, lambda mu, A: mu),
                                           "family must be a NormalNormal instance for NormalNormalSDE"),
    "oracle of another family": (lambda: pmm.NormalNormalSDE(NN(mean=3.0), LINEAR, tg.Gaussian().predictor(NN())),
                                 "predictor was built for NormalNormal.mean=0.0"),
    "predictor not callable": (lambda: pmm.NormalNormalSDE(NN(), LINEAR, 3.0), "predictor must be callable.*float"),
    # thinning
    "xhat_max True": (lambda: Thinning(xhat_max=True), "xhat_max must be a finite real number"),
    "xhat_max str": (lambda: Thinning(xhat_max="3"), "xhat_max must be a finite real number"),
    "xhat_max complex": (lambda: Thinning(xhat_max=1j), "xhat_max must be a finite real number"),
    "xhat_max nan": (lambda: Thinning(xhat_max=NAN), "xhat_max"),
    "xhat_max 0": (lambda: Thinning(xhat_max=0), "xhat_max must be finite and > 0"),
    "max_proposals 0": (lambda: Thinning(max_proposals=0), "max_proposals must be >= 1"),
    "max_rounds nan": (lambda: Thinning(max_rounds=NAN), "max_rounds must be a finite real number"),
    "predictor's xhat_max nan": (lambda: run(pmm.GammaPoissonCoxSDE(GP(), LINEAR, Bounded(NAN)), "thinning"),
                                 "the predictor's xhat_max must be a finite real number"),
    "predictor's xhat_max str": (lambda: run(pmm.GammaPoissonCoxSDE(GP(), LINEAR, Bounded("a")), "thinning"),
                                 "the predictor's xhat_max"),
    "loose xhat_max": (lambda: run(cox_process(target=POINTS), Thinning(xhat_max=1e12)),
                       r"about 1e\+13 proposal rounds.*R = 1e\+12 x exposure 10, above max_rounds"),
    "huge predictor bound": (lambda: run(cox_process(target=tg.PointMasses([0.5, 0.5], [1.0, 1e12])), "thinning"),
                             "max_rounds"),
    "dirichlet thinning over a huge exposure": (
        lambda: run(cox_process(DC(3), tg.Categorical([0.2, 0.3, 0.5]), pmm.schedules.Linear(1e12)), "thinning"),
        r"1e\+12 proposal rounds.*R = 1 x exposure 1e\+12"),
    "too many proposals": (lambda: run(cox_process(target=POINTS), Thinning(max_proposals=100), n=100),
                           r"about 2e\+03 proposals: 100 samples x 20 per sample.*above max_proposals = 100"),
    # Brownian solvers
    "check_stability str": (lambda: EulerMaruyama(check_stability="no"), "check_stability must be True or False"),
    # metrics
    "energy of empty x": (lambda: metrics.energy_distance(torch.empty(0, 2), X), "x must not be empty"),
    "energy of NaN y": (lambda: metrics.energy_distance(X, X * NAN), "y must be finite"),
    "energy of inf x": (lambda: metrics.energy_distance(X * INF, X), "x must be finite"),
    "energy of a 0-dim x": (lambda: metrics.energy_distance(torch.tensor(1.0), X), "x must hold points"),
    "energy of complex x": (lambda: metrics.energy_distance(X.to(torch.complex128), X), "x.*complex"),
    "energy of None": (lambda: metrics.energy_distance(None, X), "x must be a real number"),
    "energy of mismatched dims": (lambda: metrics.energy_distance(X, torch.randn(5, 3)), "same size, got 2 and 3"),
    "sliced of empty y": (lambda: metrics.sliced_wasserstein(X, torch.empty(0, 2)), "y must not be empty"),
    "sliced of NaN x": (lambda: metrics.sliced_wasserstein(X * NAN, X), "x must be finite"),
    "sliced seed str": (lambda: metrics.sliced_wasserstein(X, X, seed="a"), "seed must be an integer >= 0"),
    "sliced seed 2.5": (lambda: metrics.sliced_wasserstein(X, X, seed=2.5), "seed must be an integer >= 0"),
    "sliced seed None": (lambda: metrics.sliced_wasserstein(X, X, seed=None), "seed must be an integer >= 0"),
    "bits of NaN": (lambda: metrics.bits_per_token(torch.tensor([NAN]), 3), "nats_per_sequence must be finite"),
    "bits of nothing": (lambda: metrics.bits_per_token(torch.empty(0), 3), "nats_per_sequence must not be empty"),
    # testing kit
    "same law of no samples": (lambda: assert_same_law(np.array([]), stats.norm()), "samples must not be empty"),
    "same law of NaN samples": (lambda: assert_same_law(np.array([NAN, 1.0]), stats.norm()), "samples must be finite"),
    "same law of complex samples": (lambda: assert_same_law(np.array([1j, 2j]), stats.norm()), "samples.*complex"),
    "same law of an empty reference": (lambda: assert_same_law(X[:, 0], np.array([])), "reference must not be empty"),
    "same law of a NaN reference": (lambda: assert_same_law(X[:, 0], np.array([NAN, 1.0])), "reference must be finite"),
    "same law of a str reference": (lambda: assert_same_law(X[:, 0], "norm"), "reference must be a scipy.stats law"),
    "same law at level 2": (lambda: assert_same_law(X[:, 0], stats.norm(), level=2), r"level must be in \(0, 1\)"),
    "same law at level nan": (lambda: assert_same_law(X[:, 0], stats.norm(), level=NAN), "level"),
    "moments of no samples": (lambda: assert_moments(np.array([]), mean=0.0), "samples must not be empty"),
    "moments of one sample": (lambda: assert_moments(np.array([1.0]), variance=1.0), "at least 2 values"),
    "moments of NaN samples": (lambda: assert_moments(np.array([NAN, 1.0, 2.0]), mean=0.0), "samples must be finite"),
    "moments against a NaN mean": (lambda: assert_moments(X[:, 0], mean=NAN), "mean must be a finite real number"),
    "moments against a str mean": (lambda: assert_moments(X[:, 0], mean="0"), "mean must be a finite real number"),
    "moments against a negative variance": (lambda: assert_moments(X[:, 0], variance=-1.0), "variance must be >= 0"),
    "constant predictor of None": (lambda: pst.ConstantPredictor(None), "x must be a real number"),
    "constant predictor of nothing": (lambda: pst.ConstantPredictor(torch.empty(0)), "x must not be empty"),
    "moments z -1": (lambda: assert_moments(X[:, 0], mean=0.0, z=-1.0), "z must be > 0"),
}


@settings(max_examples=1, database=None)
@given(data=st.data())
def test_strategy_targets_name_a_bad_family(data):
    with pytest.raises(ValueError, match="family: no targets for NoneType"):
        data.draw(pst.targets(None))


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_parameter_raises_a_value_error_naming_it(case):
    call, match = BAD[case]
    with pytest.raises(ValueError, match=match):
        call()


def test_valid_edge_inputs_still_work():
    """What the checks must not refuse: integral num_classes of any integer type, lists of points,
    one-element tensors for real numbers, equal families in two dtypes, a target of a shape that
    broadcasts with the family's, float32 casts of representable parameters."""
    assert DC(np.int64(3)).num_classes == 3 and DC(3.0).num_classes == 3
    assert metrics.energy_distance([[1.0, 2.0]], [[1.0, 2.0]]) == 0.0
    assert_moments(X[:, 0], mean=torch.tensor(0.0), z=np.float64(6.0))
    assert Thinning(xhat_max=np.float32(2.0)).xhat_max == 2.0
    family32 = NN(mean=torch.tensor(0.1, dtype=torch.float32))
    assert family32.same_as(NN(mean=0.1)) and not family32.same_as(NN(mean=0.2)) and not family32.same_as(GP())
    process = pmm.NormalNormalSDE(NN(mean=torch.tensor(0.1, dtype=torch.float32)), LINEAR,
                                  tg.Gaussian(mean=[0.0, 1.0]).predictor(NN(mean=0.1)), shape=(2,))
    assert torch.isfinite(run(process, dtype=torch.float32)).all()
    cast = GP(rate=1e30).cast(torch.zeros((), dtype=torch.float32))
    assert cast.rate.dtype == torch.float32 and float(cast.rate) == pytest.approx(1e30, rel=1e-6)
    assert torch.isfinite(run(cox_process(target=POINTS), "thinning", n=8)).all()
