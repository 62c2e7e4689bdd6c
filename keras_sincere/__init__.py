"""keras_sincere: the SINCERE supervised contrastive loss for Keras 3."""

from keras_sincere import augment
from keras_sincere import callbacks
from keras_sincere import data
from keras_sincere import evaluation
from keras_sincere import losses
from keras_sincere import models
from keras_sincere import recipes
from keras_sincere import schedules

__version__ = "0.1.0"

__all__ = [
    "augment",
    "callbacks",
    "data",
    "evaluation",
    "losses",
    "models",
    "recipes",
    "schedules",
    "__version__",
]
