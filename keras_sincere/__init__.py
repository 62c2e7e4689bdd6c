"""keras_sincere: the SINCERE supervised contrastive loss for Keras 3.

The subpackages are imported on first use (PEP 562), so that the
`keras-sincere` command answers `--help` and argument errors without
importing Keras and its backend. When Keras is already imported, they are
imported at once: `import keras` then `import keras_sincere` registers every
serialisable class before `keras.models.load_model`.
"""

import importlib
import sys

__version__ = "0.1.0"

_SUBPACKAGES = (
    "augment",
    "callbacks",
    "data",
    "evaluation",
    "experiments",
    "losses",
    "models",
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


if "keras" in sys.modules:
    for _name in _SUBPACKAGES:
        importlib.import_module(f"{__name__}.{_name}")
