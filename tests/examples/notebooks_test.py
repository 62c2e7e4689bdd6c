"""Every example notebook runs top to bottom, at toy size, on this backend.

Each notebook is executed in a fresh Jupyter kernel (the Python running the
tests, so the tox env's packages and `KERAS_BACKEND`), in a temporary working
directory, with `KERAS_SINCERE_EXAMPLE_SIZE=toy`. The kernel talks over Unix
sockets, not TCP: a TCP kernel picks free ports before it binds them, and a
test in the other xdist worker could take one in between.
"""

import json
import pathlib
import re
import tempfile

import keras
import nbclient
import nbformat
import pytest
import traitlets.config

EXAMPLES = pathlib.Path(__file__).parents[2] / "examples"
NOTEBOOKS = sorted(EXAMPLES.glob("*.ipynb"))
# Notebooks that must draw at least this many figures.
FIGURES = {
    "02_sincere_vs_supcon.ipynb": 2,
    "03_cifar_resnet50.ipynb": 1,
    "05_bring_your_own_data.ipynb": 1,
}


def test_the_six_notebooks_are_there():
    assert [path.name for path in NOTEBOOKS] == [
        "01_quickstart.ipynb",
        "02_sincere_vs_supcon.ipynb",
        "03_cifar_resnet50.ipynb",
        "04_transfer_linear_probe.ipynb",
        "05_bring_your_own_data.ipynb",
        "06_memory.ipynb",
    ]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_notebook_is_committed_clean_with_a_backend_and_size_cell(path):
    notebook = nbformat.read(path, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(not cell.outputs and cell.execution_count is None for cell in code)
    first = code[0].source
    assert 'os.environ.setdefault("KERAS_BACKEND"' in first
    assert "KERAS_SINCERE_EXAMPLE_SIZE" in first
    # The backend must be chosen before anything imports keras.
    assert "import keras" not in first
    assert notebook.cells[0].cell_type == "markdown"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_notebook_runs_at_toy_size(path, tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_SINCERE_EXAMPLE_SIZE", "toy")
    monkeypatch.setenv("KERAS_BACKEND", keras.backend.backend())
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    notebook = nbformat.read(path, as_version=4)
    # A short directory of its own: a socket path must stay under ~100 bytes.
    with tempfile.TemporaryDirectory(prefix="nb") as sockets:
        config = traitlets.config.Config()
        config.KernelManager.transport = "ipc"
        config.KernelManager.ip = f"{sockets}/kernel"
        client = nbclient.NotebookClient(
            notebook,
            timeout=600,
            kernel_name="python3",
            resources={"metadata": {"path": str(tmp_path)}},
            config=config,
        )
        client.execute()  # raises CellExecutionError, with its traceback, on failure

    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(cell.execution_count is not None for cell in code)
    outputs = [output for cell in code for output in cell.outputs]
    text = "".join(output.get("text", "") for output in outputs)
    assert f"on the {keras.backend.backend()} backend" in text
    assert not re.search(r"\bnan\b", text, re.IGNORECASE), text
    figures = sum("image/png" in output.get("data", {}) for output in outputs)
    assert figures >= FIGURES.get(path.name, 0), (figures, text)
    if path.name == "05_bring_your_own_data.ipynb":
        output = tmp_path / "runs" / "05_bring_your_own_data"
        assert (output / "model.keras").is_file()
        assert json.loads((output / "summary.json").read_text())["classes"] == 10
        assert "loaded under" in text, text
