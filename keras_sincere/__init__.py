"""keras_sincere: the SINCERE supervised contrastive loss for Keras 3.

`import keras_sincere` imports every subpackage, which registers the
serialisable classes, so `keras.models.load_model` finds them in any import
order. Only the `keras-sincere` command defers them to first use (PEP 562),
so that it answers `--help` and argument errors without importing Keras and
its backend.
"""

import importlib
import os
import sys

__version__ = "0.1.0"

_SUBPACKAGES = (
    "augment",
    "callbacks",
    "data",
    "distributed",
    "evaluation",
    "experiments",
    "losses",
    "models",
    "ops",
    "recipes",
    "schedules",
)

__all__ = [*_SUBPACKAGES, "__version__"]


def __getattr__(name):
    if name in _SUBPACKAGES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_SUBPACKAGES))


def _started_as_the_command() -> bool:
    # The console script is named `keras-sincere`; while `python -m
    # keras_sincere.cli` imports this package, `sys.argv[0]` is still "-m".
    program = sys.argv[0] if sys.argv else ""
    return program == "-m" or os.path.basename(program).startswith("keras-sincere")


if not _started_as_the_command():
    for _name in _SUBPACKAGES:
        importlib.import_module(f"{__name__}.{_name}")
