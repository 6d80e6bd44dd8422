"""pytest plugin (registered by the package's ``pytest11`` entry point): the ``slow`` marker for long
statistical tests, so suites built on ``pmm_sde.testing`` can run ``pytest -m "not slow"`` without
registering it themselves."""

from __future__ import annotations

SLOW_MARKER = "slow: long statistical tests (deselect with -m 'not slow')"


def pytest_configure(config) -> None:
    """Register the ``slow`` marker."""
    config.addinivalue_line("markers", SLOW_MARKER)
