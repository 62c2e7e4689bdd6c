"""Shared test setup. The backend is fixed per process by KERAS_BACKEND."""

import os

# torch must be imported before TensorFlow when both end up loaded.
if os.environ.get("KERAS_BACKEND") == "torch":
    import torch  # noqa: F401

import keras
import numpy as np
import pytest


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture(autouse=True)
def _restore_dtype_policy():
    """Tests that switch mixed precision on must not leak it to others."""
    yield
    keras.config.set_dtype_policy("float32")


def pytest_report_header(config):
    return f"keras {keras.__version__}, backend {keras.backend.backend()}"


# tox runs the suite on two workers with `--dist loadfile`: a test module runs
# whole on one worker (its fixtures of module scope and the programs its
# tests compile are built once), and a worker takes the next module when it
# runs out. The modules that train models or start processes go first,
# longest first (measured with `--durations` on each backend), so that the
# many short modules even out the end.
LONGEST_FIRST = (
    "tests/examples/notebooks_test.py",
    "tests/cli_test.py",
    "tests/models/contrastive_model_test.py",
    "tests/models/contrastive_model_memory_test.py",
    "tests/losses/softmax_contrastive_loss_test.py",
    "tests/losses/chunked_test.py",
    "tests/training_test.py",
    "tests/experiments_test.py",
    "tests/paper_claim_test.py",
    "tests/models/resnet_test.py",
    "tests/losses/distributed_test.py",
    "tests/docstring_examples_test.py",
)
# Modules that compile train steps with `jit_compile=True` also share a
# worker: torch.compile pays its warm-up (~20 s) once per process, and the
# kernels it generates for one module's losses serve the others.
SAME_WORKER = {
    "tests/models/contrastive_model_test.py": "jit_compiled_steps",
    "tests/models/contrastive_model_memory_test.py": "jit_compiled_steps",
    "tests/losses/softmax_contrastive_loss_test.py": "jit_compiled_steps",
    "tests/losses/chunked_test.py": "jit_compiled_steps",
}

# Modules whose tests share nothing (each notebook runs in a kernel of its
# own): their tests are handed out one by one, which evens out the workers.
OWN_UNIT = {"tests/examples/notebooks_test.py"}


def _module_rank(item: pytest.Item) -> int:
    module = item.nodeid.split("::")[0]
    if module in LONGEST_FIRST:
        return LONGEST_FIRST.index(module)
    return len(LONGEST_FIRST)


def pytest_collection_modifyitems(config, items):
    items.sort(key=_module_rank)  # stable: a module's tests keep their order


def pytest_xdist_make_scheduler(config, log):
    """`--dist loadfile`, with the modules of `SAME_WORKER` as one unit.

    (`--dist loadgroup` would read `xdist_group` marks, but pytest-xdist 3.8
    cannot tag the tests of pytest 9.2 with them: it ignores the marks.)
    """
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class ModuleScheduling(LoadFileScheduling):
        def _split_scope(self, nodeid):
            module = super()._split_scope(nodeid)
            if module in OWN_UNIT:
                return nodeid  # each test on whichever worker is free
            return SAME_WORKER.get(module, module)

    # The units run in the order collected above, not by their test counts.
    config.option.loadscopereorder = False
    return ModuleScheduling(config, log)
