"""SimCLR-style view augmentation: in-graph Keras layers, and keras-cv for tf.data."""

from keras_sincere.augment.color_jitter import ColorJitter
from keras_sincere.augment.keras_cv_augmenter import keras_cv_augmenter
from keras_sincere.augment.random_apply import RandomApply
from keras_sincere.augment.random_resized_crop import RandomResizedCrop
from keras_sincere.augment.simclr_augmenter import simclr_augmenter

__all__ = [
    "ColorJitter",
    "RandomApply",
    "RandomResizedCrop",
    "keras_cv_augmenter",
    "simclr_augmenter",
]
