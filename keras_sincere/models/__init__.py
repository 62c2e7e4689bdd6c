"""Backbones, projection head and the contrastive training model."""

from keras_sincere.models.contrastive_model import ContrastiveModel
from keras_sincere.models.embedding_queue import EmbeddingQueue
from keras_sincere.models.projection_head import ProjectionHead
from keras_sincere.models.resnet import resnet
from keras_sincere.models.resnet import resnet18
from keras_sincere.models.resnet import resnet34
from keras_sincere.models.resnet import resnet50

__all__ = [
    "ContrastiveModel",
    "EmbeddingQueue",
    "ProjectionHead",
    "resnet",
    "resnet18",
    "resnet34",
    "resnet50",
]
