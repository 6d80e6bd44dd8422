"""Writing a benchmark's JSON report."""

from __future__ import annotations

import json
from pathlib import Path


def write_report(report: dict, path: str | Path | None) -> dict:
    """Write ``report`` as indented JSON to ``path`` (nothing when ``path`` is None); return it."""
    if path is not None:
        Path(path).write_text(json.dumps(report, indent=2))
    return report
