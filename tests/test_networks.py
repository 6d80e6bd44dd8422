"""Networks as predictors: shapes, head ranges, rebuild from config, batch independence, dtypes,
gradients, preconditioning equations, argument checks."""

import io
import json

import pytest
import torch

import pmm_sde as pmm
from pmm_sde.networks import MLP, Transformer, UNet, build
from pmm_sde.networks.preconditioning import GaussianPreconditioner


def gaussian_state(n, generator):
    return torch.randn(n, 2, generator=generator), torch.full((n, 1), 3.0)


def count_state(shape):
    def draw(n, generator):
        return 5.0 * torch.rand(n, *shape, generator=generator) + 0.01, torch.full((n, *(1,) * len(shape)), 2.0)
    return draw


def simplex_state(n, generator):
    mu = torch.softmax(2.0 * torch.randn(n, 6, 5, generator=generator), -1)
    return mu, torch.randint(0, 4, (n, 6, 1), generator=generator).to(torch.float32)


CASES = {
    "mlp-real": (lambda: MLP((2,), hidden=32, depth=2, family=pmm.NormalNormal(0.0, 1.0)), gaussian_state),
    "mlp-plain": (lambda: MLP((2,), hidden=32, depth=1), gaussian_state),
    "mlp-positive": (lambda: MLP((3,), head="positive", hidden=32, family=pmm.GammaPoisson(1.0, 0.2),
                                 data_mean=2.5, data_std=1.5), count_state((3,))),
    "mlp-bounded": (lambda: MLP((3,), head="bounded", x_max=16.0, hidden=32, family=pmm.GammaPoisson(1.0, 0.2)),
                    count_state((3,))),
    "unet-bounded": (lambda: UNet(8, base=8, head="bounded", x_max=16.0, family=pmm.GammaPoisson(1.0, 0.2),
                                  data_mean=4.9, data_std=6.0), count_state((8, 8))),
    "unet-real-channels": (lambda: UNet(8, channels=2, base=8, family=pmm.NormalNormal(0.0, 1.0)),
                           lambda n, g: (torch.randn(n, 2, 8, 8, generator=g), torch.tensor(0.5))),
    "transformer-simplex": (lambda: Transformer(5, 6, dim=16, depth=1, heads=2, family=pmm.DirichletCategorical(5)),
                            simplex_state),
    "mlp-simplex": (lambda: MLP((6, 5), head="simplex", hidden=32), simplex_state),
}


def make(case, n=7, seed=0):
    factory, draw = CASES[case]
    torch.manual_seed(seed)
    net = factory()
    mu, A = draw(n, torch.Generator().manual_seed(seed + 1))
    return net, mu, A


def check_range(net, xhat):
    head = net.config["head"]
    assert torch.isfinite(xhat).all()
    if head == "positive":
        assert (xhat >= 0).all()
    elif head == "bounded":
        assert ((xhat >= 0) & (xhat <= net.xhat_max)).all()
    elif head == "simplex":
        assert (xhat >= 0).all()
        torch.testing.assert_close(xhat.sum(-1), torch.ones(xhat.shape[:-1]))


@pytest.mark.parametrize("case", CASES)
def test_output_shape_and_head_range(case):
    net, mu, A = make(case)
    xhat = net(mu, A)
    assert xhat.shape == mu.shape and xhat.dtype == mu.dtype
    check_range(net, xhat)


@pytest.mark.parametrize("case", CASES)
def test_build_from_config_reproduces_outputs(case):
    net, mu, A = make(case)
    net.eval()
    buffer = io.BytesIO()
    torch.save({"config": net.config, "state_dict": net.state_dict()}, buffer)
    buffer.seek(0)
    saved = torch.load(buffer, weights_only=True)
    assert json.loads(json.dumps(saved["config"])) == net.config
    twin = build(saved["config"])
    twin.load_state_dict(saved["state_dict"])
    twin.eval()
    assert twin.config == net.config
    with torch.no_grad():
        assert torch.equal(twin(mu, A), net(mu, A))


@pytest.mark.parametrize("case", CASES)
def test_a_sample_ignores_the_rest_of_the_batch(case):
    net, mu, A = make(case, n=6)
    net.eval()
    other, other_A = CASES[case][1](6, torch.Generator().manual_seed(99))
    row = (lambda a, i: a[i:i + 1]) if A.dim() else (lambda a, i: a)
    with torch.no_grad():
        whole = net(mu, A)
        pieces = torch.cat([net(mu[i:i + 1], row(A, i)) for i in range(6)])
        mixed = net(torch.cat([mu[:3], other[3:]]), torch.cat([A[:3], other_A[3:]]) if A.dim() else A)
    torch.testing.assert_close(whole, pieces, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(mixed[:3], whole[:3], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("case", CASES)
def test_float64_inputs_give_float64_outputs(case):
    net, mu, A = make(case)
    with torch.no_grad():
        single = net(mu, A)
        double = net(mu.double(), A.double())
    assert double.dtype == torch.float64 and double.device == mu.device
    torch.testing.assert_close(double.float(), single, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("case", CASES)
def test_gradient_reaches_every_parameter(case):
    net, mu, A = make(case)
    (net(mu, A) * torch.randn(mu.shape, generator=torch.Generator().manual_seed(3))).sum().backward()
    for name, parameter in net.named_parameters():
        assert parameter.grad is not None and bool((parameter.grad != 0).any()), name


@pytest.mark.parametrize("case", CASES)
def test_only_bounded_heads_expose_xhat_max(case):
    net, _, _ = make(case)
    if net.config["head"] == "bounded":
        assert net.xhat_max == net.config["x_max"] == 16.0
    else:
        assert not hasattr(net, "xhat_max")


def test_every_form_of_A_gives_the_same_prediction():
    net, mu, _ = make("mlp-real", n=4)
    with torch.no_grad():
        reference = net(mu, 2.0)
        for A in (torch.tensor(2.0), torch.full((4,), 2.0), torch.full((4, 1), 2.0), torch.full((4, 2), 2.0)):
            torch.testing.assert_close(net(mu, A), reference)
        tnet, tmu, _ = make("transformer-simplex", n=3)
        torch.testing.assert_close(tnet(tmu, torch.full((3, 6, 1), 2.0)), tnet(tmu, 2.0))
    with pytest.raises(ValueError, match="A must be"):
        net(mu, torch.ones(3))
    with pytest.raises(ValueError, match="A must be"):
        net(mu, torch.ones(4, 2, 1))


def zero_output(net):
    with torch.no_grad():
        net.output.weight.zero_()
        net.output.bias.zero_()
    return net


def test_gaussian_skip_is_the_gaussian_oracle_when_the_body_outputs_zero():
    family = pmm.NormalNormal(0.5, 2.0)
    net = zero_output(MLP((2,), hidden=16, depth=1, family=family, data_mean=-1.0, data_std=1.5)).double()
    oracle = pmm.targets.Gaussian(-1.0, 1.5).predictor(family)
    x = torch.randn(50, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    for A in (0.0, 0.3, 40.0):
        mu, A = family.sample_state(x, torch.tensor(A, dtype=torch.float64), torch.Generator().manual_seed(1))
        torch.testing.assert_close(net(mu, A), oracle(mu, A))


def test_gaussian_input_has_unit_variance_at_every_information():
    family, m_d, s_d = pmm.NormalNormal(0.3, 1.7), 2.0, 0.5
    pre = GaussianPreconditioner(0.3, 1.7, m_d, s_d)
    generator = torch.Generator().manual_seed(0)
    n = 40_000
    x = m_d + s_d * torch.randn(n, 1, dtype=torch.float64, generator=generator)
    for A in (1e-3, 0.5, 3.0, 1e3):
        mu, A = family.sample_state(x, torch.tensor(A, dtype=torch.float64), generator)
        r = pre.inputs(mu, A)
        assert abs(float(r.mean())) < 5 / n ** 0.5
        assert abs(float(r.var()) - 1.0) < 5 * (2 / n) ** 0.5
    assert torch.equal(pre.inputs(torch.full((3, 1), 0.3, dtype=torch.float64), torch.tensor(0.0)),
                       torch.zeros(3, 1, dtype=torch.float64))


@pytest.mark.parametrize("case", ["mlp-positive", "mlp-bounded", "transformer-simplex"])
def test_activation_skip_predicts_mu_when_the_body_outputs_zero(case):
    net, mu, A = make(case)
    zero_output(net)
    with torch.no_grad():
        torch.testing.assert_close(net(mu, A), mu, rtol=1e-5, atol=1e-5)


def test_information_embedding_shapes_and_finiteness():
    embedding = pmm.networks.InformationEmbedding(8)
    out = embedding(torch.tensor([[0.0, 1.0, 1e6]]))
    assert out.shape == (1, 3, 8) and torch.isfinite(out).all()
    with pytest.raises(ValueError, match="dim"):
        pmm.networks.InformationEmbedding(7)


def test_constructors_reject_bad_arguments():
    with pytest.raises(ValueError, match="head"):
        MLP((2,), head="sigmoid")
    with pytest.raises(ValueError, match="x_max"):
        MLP((2,), head="bounded")
    with pytest.raises(ValueError, match="x_max"):
        MLP((2,), head="real", x_max=3.0)
    with pytest.raises(ValueError, match="x_max"):
        MLP((2,), head="bounded", x_max=-1.0)
    with pytest.raises(ValueError, match="head"):
        MLP((2,), head="positive", family=pmm.NormalNormal())
    with pytest.raises(ValueError, match="hidden"):
        MLP((2,), hidden=0)
    with pytest.raises(ValueError, match="embed_dim"):
        UNet(8, embed_dim=5)
    with pytest.raises(ValueError, match="data_std"):
        MLP((2,), family=pmm.NormalNormal(), data_std=0.0)
    with pytest.raises(ValueError, match="family and preconditioning"):
        MLP((2,), family=pmm.NormalNormal(), preconditioning={"kind": "none"})
    with pytest.raises(ValueError, match="preconditioning"):
        MLP((2,), preconditioning={"kind": "edm"})
    with pytest.raises(ValueError, match="size"):
        UNet(10)
    with pytest.raises(ValueError, match="heads"):
        Transformer(5, 6, dim=10, heads=4)
    with pytest.raises(ValueError, match="num_classes"):
        Transformer(5, 6, family=pmm.DirichletCategorical(4))
    with pytest.raises(ValueError, match="config"):
        build({"name": "resnet"})
    with pytest.raises(ValueError, match="config"):
        build({"name": "mlp", "shape": [2], "width": 3})
    net, mu, A = make("mlp-real")
    with pytest.raises(ValueError, match="mu"):
        net(mu[:, :1], A)
