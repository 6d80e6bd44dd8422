"""The convergence study's figure: labelled axes with units, a legend with each solver's measured
order and its declared reference slope, points left out of the fit drawn open."""

import matplotlib
import numpy as np

from pmm_sde.convergence import EXACT_LAW, REFINEMENT, ConvergenceStudy, fit_order

STEPS = [8, 16, 32, 64]


def study(strong: bool) -> ConvergenceStudy:
    first = {name: fit_order(STEPS, [0.1 / N for N in STEPS], [0.0] * 4, functional=name)
             for name in ("mean", "variance", "cos")}
    # Second order, its last difference within the noise (left out of the fit).
    second = {name: fit_order(STEPS[:-1], [1.0 / N ** 2 for N in STEPS[:-1]], [1e-5, 1e-5, 1e-3], functional=name)
              for name in ("mean", "variance", "cos")}
    result = ConvergenceStudy("test problem", {"euler": 1.0, "heun": 2.0}, {"euler": first, "heun": second},
                              weak_methods={"euler": EXACT_LAW, "heun": REFINEMENT})
    if strong:
        result.declared_strong = {"euler": 0.5, "heun": 1.0}
        result.strong = {solver: fit_order(STEPS[:-1], [0.3 / N ** 0.5 for N in STEPS[:-1]], [1e-4] * 3,
                                           functional="L1") for solver in ("euler", "heun")}
    return result


def test_plot_labels_axes_units_orders_and_reference_slopes(tmp_path):
    backend = matplotlib.get_backend()
    fig = study(strong=True).plot(tmp_path / "orders.png")
    assert (tmp_path / "orders.png").stat().st_size > 10_000
    assert matplotlib.get_backend() == backend  # no pyplot, no backend switch
    mean, variance, cos, strong = fig.axes
    for ax in fig.axes:
        assert ax.get_xlabel().startswith("steps N") and "NFE" in ax.get_xlabel()
        assert ax.get_xscale() == ax.get_yscale() == "log"
        assert list(ax.get_xticks()) == (STEPS[:-1] if ax is strong else STEPS)
        legend = [text.get_text() for text in ax.get_legend().get_texts()]
        orders = ("0.50", "0.50") if ax is strong else ("1.00", "2.00")
        assert len(legend) == 4 and legend[0].startswith("euler") and legend[0].endswith(f"measured order {orders[0]}")
        assert legend[2].startswith("heun") and legend[2].endswith(f"measured order {orders[1]}")
    assert "units of x]" in mean.get_ylabel() and "x^2" in variance.get_ylabel() and "dimensionless" in cos.get_ylabel()
    assert "E^* f" in mean.get_ylabel() and "E f(Y_{N'})" in mean.get_ylabel()  # both methods appear
    assert "(exact law)" in mean.get_legend().get_texts()[0].get_text()
    assert "reference slope $N^{-2}$" in mean.get_legend().get_texts()[3].get_text()
    assert "strong error" in strong.get_title() and "E|Y_N - Y_{N'}|" in strong.get_ylabel()
    assert "reference slope $N^{-0.5}$" in strong.get_legend().get_texts()[1].get_text()
    # heun's last point, within the noise, is drawn open; its reference line passes its first point
    open_markers = [line for line in mean.lines if line.get_markerfacecolor() == "none" and len(line.get_xdata())]
    assert [list(line.get_xdata()) for line in open_markers] == [[32.0]]
    reference = [line for line in mean.lines if line.get_label().startswith("reference slope $N^{-2}$")][0]
    np.testing.assert_allclose(reference.get_ydata(), [1 / N ** 2 for N in STEPS[:-1]])
    assert EXACT_LAW in fig.get_suptitle() and REFINEMENT in fig.get_suptitle()


def test_plot_without_strong_orders_has_one_panel_per_functional():
    fig = study(strong=False).plot()
    assert [ax.get_title().split(",")[1].strip() for ax in fig.axes] == [
        "$f(\\mu) = \\mu$", "$f(\\mu) = (\\mu - c)^2$", "$f(\\mu) = \\cos \\mu$"]
