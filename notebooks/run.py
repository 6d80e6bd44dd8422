"""Execute the example notebooks in place, so that they are committed with their outputs.

    python -m notebooks.run [--fast] [NAME ...]

from the repository root. Each notebook runs top to bottom in a fresh Jupyter kernel (nbclient,
ipykernel's ``python3`` in this interpreter's environment) with this checkout first on
``PYTHONPATH``; figures are kept as PNG outputs. ``--fast`` sets ``PMM_FAST=1`` (the sizes the test
suite runs, about 15 s a notebook); without it the notebooks run at their full sizes, as committed.
The SHA-256 of the code cells' sources and the mode are written into the notebook's metadata
(``pmm_sde``), so that ``tests/test_notebooks.py`` can tell that the committed outputs come from
the committed code.
"""

from __future__ import annotations

import argparse
import hashlib
import os
from contextlib import contextmanager
from pathlib import Path

import nbformat
from nbclient import NotebookClient

DIRECTORY = Path(__file__).resolve().parent
ROOT = DIRECTORY.parent
#: Seconds a single cell may run.
CELL_TIMEOUT = 1800


def notebooks() -> list[Path]:
    """The notebooks, in order of their names."""
    return sorted(DIRECTORY.glob("*.ipynb"))


def sources_digest(notebook: nbformat.NotebookNode) -> str:
    """SHA-256 of the code cells' sources, in order (what the outputs were computed from)."""
    digest = hashlib.sha256()
    for cell in notebook.cells:
        if cell.cell_type == "code":
            digest.update(cell.source.encode() + b"\0")
    return digest.hexdigest()


@contextmanager
def _kernel_environment(fast: bool):
    """``PMM_FAST`` as asked, this checkout first on ``PYTHONPATH``, the inline matplotlib backend
    (``MPLBACKEND`` unset, so that ipykernel chooses it) and one torch thread (``OMP_NUM_THREADS=1``:
    the notebooks' tensors are small, and on a busy machine more threads slowed a notebook threefold),
    restored afterwards."""
    saved = {key: os.environ.get(key) for key in ("PMM_FAST", "PYTHONPATH", "MPLBACKEND", "OMP_NUM_THREADS")}
    os.environ.pop("MPLBACKEND", None)
    os.environ.pop("PMM_FAST", None)
    os.environ["OMP_NUM_THREADS"] = "1"
    if fast:
        os.environ["PMM_FAST"] = "1"
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), saved["PYTHONPATH"]]))
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def execute(path: Path, fast: bool) -> nbformat.NotebookNode:
    """The notebook at ``path`` run top to bottom (in memory; nothing is written), stamped with
    ``metadata["pmm_sde"] = {"sources_sha256": .., "mode": "fast" | "full"}``. A cell that raises
    stops the run with nbclient's ``CellExecutionError``."""
    notebook = nbformat.read(path, as_version=4)
    with _kernel_environment(fast):
        NotebookClient(notebook, kernel_name="python3", timeout=CELL_TIMEOUT, record_timing=False,
                       resources={"metadata": {"path": str(path.parent)}}).execute()
    notebook.metadata["pmm_sde"] = {"sources_sha256": sources_digest(notebook), "mode": "fast" if fast else "full"}
    return notebook


def main(argv: list[str] | None = None) -> list[Path]:
    """Execute the chosen notebooks (default: all) and write each back with its outputs."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="notebook file names (default: every notebook)")
    parser.add_argument("--fast", action="store_true", help="PMM_FAST=1: the test suite's small sizes")
    args = parser.parse_args(argv)
    known = {path.name: path for path in notebooks()}
    unknown = sorted(set(args.names) - set(known))
    if unknown:
        parser.error(f"unknown notebooks {unknown}; choose from {sorted(known)}")
    chosen = [known[name] for name in args.names] if args.names else list(known.values())
    for path in chosen:
        print(f"running {path.name} ({'fast' if args.fast else 'full'} sizes)", flush=True)
        nbformat.write(execute(path, args.fast), path)
    return chosen


if __name__ == "__main__":
    main()
