"""One row per loss: its class, functional twin, naive oracle and arguments."""

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np

from keras_sincere import losses
from tests.losses import naive

# The public test table of google-research/supcon (losses_test.py): raw,
# un-normalised features, labels (0, 0, 1), T = 1. Its "one positive"
# denominator mode is SINCERE, its "all" mode is SupCon.
TABLE_FEATURES = np.array(
    [
        [[0.01, 0.02, 0.14], [0.38, 0.61, 0.50]],
        [[0.86, 0.97, 0.33], [0.26, 0.68, 0.45]],
        [[0.32, 0.64, 0.28], [0.45, 0.74, 0.73]],
    ],
    dtype="float32",
)
TABLE_LABELS = np.array([0, 0, 1])


@dataclasses.dataclass(frozen=True)
class LossSpec:
    name: str
    loss_class: type
    function: Callable
    oracle: Callable
    kwargs: dict[str, Any] = dataclasses.field(default_factory=dict)
    # Per-sample losses of the published table (`TABLE_*`), where published.
    published_table: tuple[float, ...] | None = None

    def __str__(self):
        return self.name


SPECS = [
    LossSpec(
        "sincere",
        losses.SincereLoss,
        losses.sincere,
        naive.sincere,
        published_table=(1.1782627, 1.3435497, 1.58471),
    ),
    LossSpec(
        "supcon",
        losses.SupConLoss,
        losses.supcon,
        naive.supcon,
        published_table=(1.6755852, 1.7973773, 1.58471),
    ),
    LossSpec(
        "supcon_base_temperature",
        losses.SupConLoss,
        losses.supcon,
        naive.supcon,
        {"base_temperature": 0.07},
    ),
    LossSpec(
        "epsilon_supinfonce",
        losses.EpsilonSupInfoNCELoss,
        losses.epsilon_supinfonce,
        naive.epsilon_supinfonce,
        {"epsilon": 0.25},
    ),
    LossSpec("infonce", losses.InfoNCELoss, losses.infonce, naive.infonce),
]

SPEC_IDS = [spec.name for spec in SPECS]
SPECS_BY_NAME = {spec.name: spec for spec in SPECS}
