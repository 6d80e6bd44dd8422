"""Convergence studies: measured weak and strong orders of the solvers, on oracle problems with
known answers.

- ``orders``: the functionals and the least-squares order fit of refinement differences;
- ``studies``: Monte Carlo refinement studies (common or antithetic noise, exact laws, quadrature)
  and their table, CSV, JSON and figure;
- ``quadrature``: a one-dimensional Brownian solver's expectations without Monte Carlo noise;
- ``count_laws``: exact laws of ``N_T`` of a one-dimensional Gamma-Poisson process under
  tau-leaping and under the target;
- ``problems``: the oracle problems of ``pmm-sde converge``;
- ``oracle_trajectories``: whole-trajectory simulators of one-dimensional oracle problems (fused
  Triton kernels, an event-to-event simulator), for studies at large sample sizes;
- ``grid_search``: optimised step grids, minimising a measured error proxy (on ``quadrature``);
- ``streaming``: statistics of functionals over fixed blocks of global sample indices, in chunks,
  bitwise the same for any chunk size.

Imports run one way: ``orders`` and ``count_laws`` at the bottom, ``quadrature`` and ``problems``
on them, ``studies`` on all but ``problems``.
"""

from .count_laws import poisson_kernel, scheme_count_law, target_count_law
from .orders import FUNCTIONALS, OrderFit, fit_order, study_steps
from .oracle_trajectories import (gamma_mixture_oracle_tau_leap, gamma_oracle_tau_leap, gamma_oracle_tau_leap_events,
                                  gaussian_oracle_pmm_chain, point_masses_oracle_tau_leap)
from .grid_search import PROXIES, OptimisedGrid, grid_proxy, optimise_grid, warped_grid
from .problems import PROBLEMS, convergence_problem, exact_count_law
from .quadrature import quadrature_weak_orders, scheme_expectations
from .streaming import (DEFAULT_BLOCK, FIRST_ENTRY_FUNCTIONALS, StreamingStatistics, block_statistics,
                        streaming_statistics)
from .studies import (ANTITHETIC, ANTITHETIC_COUNTER_BITS, EXACT_LAW, QUADRATURE, REFINEMENT, ConvergenceStudy,
                      common_noise, convergence_study, exact_weak_orders, refinement_statistics, strong_order,
                      study_samples, weak_orders)

__all__ = [
    "FUNCTIONALS", "OrderFit", "fit_order", "study_steps", "study_samples",
    "REFINEMENT", "EXACT_LAW", "QUADRATURE", "ANTITHETIC", "ANTITHETIC_COUNTER_BITS",
    "common_noise", "weak_orders", "strong_order", "exact_weak_orders", "ConvergenceStudy", "convergence_study",
    "scheme_expectations", "quadrature_weak_orders",
    "poisson_kernel", "target_count_law", "scheme_count_law",
    "PROBLEMS", "convergence_problem", "exact_count_law",
    "gamma_oracle_tau_leap", "gamma_oracle_tau_leap_events", "gamma_mixture_oracle_tau_leap",
    "point_masses_oracle_tau_leap", "gaussian_oracle_pmm_chain",
    "DEFAULT_BLOCK", "FIRST_ENTRY_FUNCTIONALS", "StreamingStatistics", "block_statistics", "streaming_statistics",
    "refinement_statistics", "PROXIES", "OptimisedGrid", "grid_proxy", "optimise_grid", "warped_grid",
]
