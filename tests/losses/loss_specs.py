"""One row per loss: its class, functional twin, naive oracle and arguments."""

import dataclasses
from collections.abc import Callable
from typing import Any

from keras_sincere import losses
from tests.losses import naive


@dataclasses.dataclass(frozen=True)
class LossSpec:
    name: str
    loss_class: type
    function: Callable
    oracle: Callable
    kwargs: dict[str, Any] = dataclasses.field(default_factory=dict)

    def __str__(self):
        return self.name


SPECS = [
    LossSpec("sincere", losses.SincereLoss, losses.sincere, naive.sincere),
    LossSpec("supcon", losses.SupConLoss, losses.supcon, naive.supcon),
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
