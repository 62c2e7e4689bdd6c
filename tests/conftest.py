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


# tox runs the suite on two workers with `--dist loadgroup`: a worker takes
# the next test when it has two left, and the tests of a module marked
# `xdist_group` (those sharing runs through fixtures of module scope) stay
# on one worker. The modules that train whole models or start processes go
# first, longest first (measured with `--durations`), so that the many short
# tests even out the end. The order only changes how fast the suite runs.
LONGEST_FIRST = (
    "tests/cli_test.py",
    "tests/experiments_test.py",
    "tests/examples/",
    "tests/paper_claim_test.py",
    "tests/training_test.py",
    "tests/losses/distributed_test.py",
    "tests/models/contrastive_model_test.py",
)


def _rank(item):
    path = item.nodeid.split("::")[0]
    ranks = (i for i, prefix in enumerate(LONGEST_FIRST) if path.startswith(prefix))
    return next(ranks, len(LONGEST_FIRST))


def pytest_collection_modifyitems(config, items):
    items.sort(key=_rank)
