"""The notebooks: committed with the outputs of their committed code, and still running.

Every notebook runs top to bottom in a Jupyter kernel, headless, in fast mode (``PMM_FAST=1``),
through the same runner that regenerates the committed outputs (``python -m notebooks.run``);
the run is in memory and writes nothing. The committed files must carry an output for every code
cell, PNG figures, no error or stderr output, and the digest of the code they were computed from.
"""

import nbformat
import pytest

from notebooks import run as runner

NOTEBOOKS = runner.notebooks()
REGENERATE = "regenerate with `python -m notebooks.run`"


def code_cells(notebook):
    return [cell for cell in notebook.cells if cell.cell_type == "code"]


def problems(notebook) -> list[str]:
    """Code cells without outputs, error outputs and stderr streams, by cell number."""
    found = []
    for number, cell in enumerate(code_cells(notebook), 1):
        kinds = [output.output_type for output in cell.outputs]
        if not kinds:
            found.append(f"code cell {number} has no output")
        if "error" in kinds:
            found.append(f"code cell {number} has an error output")
        if any(output.output_type == "stream" and output.name == "stderr" for output in cell.outputs):
            found.append(f"code cell {number} writes to stderr")
    return found


def test_there_are_notebooks():
    assert [path.name for path in NOTEBOOKS] == ["01_chain_and_solvers.ipynb", "02_cox_process.ipynb",
                                                 "03_digits.ipynb"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_notebook_carries_the_outputs_of_its_code(path):
    notebook = nbformat.read(path, as_version=4)
    assert problems(notebook) == [], f"{path.name}: {REGENERATE}"
    images = [output for cell in code_cells(notebook) for output in cell.outputs if "image/png" in output.get("data", {})]
    assert images, f"{path.name}: no PNG figure among the outputs"
    stamp = notebook.metadata.get("pmm_sde", {})
    assert stamp.get("sources_sha256") == runner.sources_digest(notebook), \
        f"{path.name}: code changed since its outputs were computed; {REGENERATE}"
    assert stamp.get("mode") == "full", f"{path.name}: outputs of a --fast run; {REGENERATE}"
    counts = [cell.execution_count for cell in code_cells(notebook)]
    assert counts == list(range(1, len(counts) + 1)), f"{path.name}: cells not run top to bottom; {REGENERATE}"


def test_digest_follows_the_code_cells_only():
    notebook = nbformat.read(NOTEBOOKS[0], as_version=4)
    digest = runner.sources_digest(notebook)
    next(cell for cell in notebook.cells if cell.cell_type == "markdown").source += " more words"
    assert runner.sources_digest(notebook) == digest
    code_cells(notebook)[-1].source += "\n"
    assert runner.sources_digest(notebook) != digest


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs_in_fast_mode(path):
    notebook = runner.execute(path, fast=True)  # raises CellExecutionError if a cell fails
    assert problems(notebook) == []
    assert notebook.metadata["pmm_sde"]["mode"] == "fast"


def test_runner_refuses_unknown_notebook_names(capsys):
    with pytest.raises(SystemExit):
        runner.main(["no_such_notebook.ipynb"])
    assert "unknown notebooks ['no_such_notebook.ipynb']" in capsys.readouterr().err
