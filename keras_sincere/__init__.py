"""keras_sincere: the SINCERE supervised contrastive loss for Keras 3."""

from keras_sincere import losses

__version__ = "0.1.0"

__all__ = ["losses", "__version__"]
