"""Tools for users' own tests: statistical law checks (and hypothesis strategies in ``strategies``)."""

from .laws import DEFAULT_LEVEL, assert_moments, assert_same_law, same_law_pvalue

__all__ = ["assert_same_law", "assert_moments", "same_law_pvalue", "DEFAULT_LEVEL"]
