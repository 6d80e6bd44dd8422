"""Exact mean and variance of the plug-in Normal-Normal chain with a Gaussian oracle (pmm-notes fact 8).

With x ~ N(m, s^2) the oracle is affine in mu: xhat = c + b mu with b = s^2 lambda / (1 + A s^2),
c = (m - s^2 l0 m0) / (1 + A s^2); one step gives
mu' = ((lambda + alpha b) mu + alpha c + sqrt(alpha) z) / lambda', so mean and variance follow
M' = ((lambda + alpha b) M + alpha c) / lambda',  V' = ((lambda + alpha b) / lambda')^2 V + alpha / lambda'^2.
"""

import torch


def plug_in_moments(l0: float, m0: float, m: float, s: float, A: torch.Tensor) -> tuple[float, float]:
    A = A.to(torch.float64)
    M, V, s2 = m0, 0.0, s * s
    for k in range(1, len(A)):
        alpha, lam, lam_next = float(A[k] - A[k - 1]), l0 + float(A[k - 1]), l0 + float(A[k])
        b = s2 * lam / (1 + float(A[k - 1]) * s2)
        c = (m - s2 * l0 * m0) / (1 + float(A[k - 1]) * s2)
        M = ((lam + alpha * b) * M + alpha * c) / lam_next
        V = ((lam + alpha * b) / lam_next) ** 2 * V + alpha / lam_next ** 2
    return M, V
