"""Supervised contrastive losses: SINCERE, SupCon, epsilon-SupInfoNCE, InfoNCE."""

from keras_sincere.losses.epsilon_supinfonce import EpsilonSupInfoNCELoss
from keras_sincere.losses.epsilon_supinfonce import epsilon_supinfonce
from keras_sincere.losses.infonce import InfoNCELoss
from keras_sincere.losses.infonce import infonce
from keras_sincere.losses.registry import LOSSES
from keras_sincere.losses.registry import canonical_name
from keras_sincere.losses.registry import get
from keras_sincere.losses.sincere import SincereLoss
from keras_sincere.losses.sincere import sincere
from keras_sincere.losses.softmax_contrastive_loss import SoftmaxContrastiveLoss
from keras_sincere.losses.supcon import SupConLoss
from keras_sincere.losses.supcon import supcon

__all__ = [
    "EpsilonSupInfoNCELoss",
    "InfoNCELoss",
    "LOSSES",
    "SincereLoss",
    "SoftmaxContrastiveLoss",
    "SupConLoss",
    "canonical_name",
    "epsilon_supinfonce",
    "get",
    "infonce",
    "sincere",
    "supcon",
]
