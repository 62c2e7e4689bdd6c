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
