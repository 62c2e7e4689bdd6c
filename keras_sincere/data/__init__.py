"""Datasets, class-balanced sampling and multi-view tf.data pipelines."""

from keras_sincere.data.class_balanced_sampler import ClassBalancedSampler
from keras_sincere.data.contrastive_dataset import contrastive_dataset
from keras_sincere.data.datasets import DatasetDownloadError
from keras_sincere.data.datasets import load_dataset
from keras_sincere.data.datasets import resize_images

__all__ = [
    "ClassBalancedSampler",
    "DatasetDownloadError",
    "load_dataset",
    "resize_images",
    "contrastive_dataset",
]
