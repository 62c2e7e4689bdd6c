"""Datasets, class-balanced sampling and multi-view tf.data pipelines."""

from keras_sincere.data.class_balanced_sampler import ClassBalancedSampler
from keras_sincere.data.contrastive_dataset import contrastive_dataset
from keras_sincere.data.datasets import DatasetDownloadError
from keras_sincere.data.datasets import load_dataset
from keras_sincere.data.datasets import resize_images
from keras_sincere.data.labels import check_contrastive_labels
from keras_sincere.data.labels import encode_labels

__all__ = [
    "ClassBalancedSampler",
    "check_contrastive_labels",
    "encode_labels",
    "DatasetDownloadError",
    "load_dataset",
    "resize_images",
    "contrastive_dataset",
]
