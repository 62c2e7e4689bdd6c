"""The paper's training hyperparameters (appendix J) as data.

Appendix J of Feeney & Hughes: "Training was done with 800 epochs of
stochastic gradient descent with 0.9 momentum, 0.0001 weight decay, 512
batch size, and a cosine annealed learning rate schedule with warm-up, which
spends 10 epochs warming up from 0.1% to 100% then cosine anneals back to
0.1% at the last epoch. Various settings of temperature (tau) and learning
rate were evaluated, with the highest 1NN accuracy determining the final
model parameters."

The paper does not print the chosen learning rates. `paper_recipe` uses
0.5, the value of the authors' public reference command
(`main_supcon.py --batch_size 512 --learning_rate 0.5 --temp 0.1 --cosine`,
github.com/tufts-ml/SupContrast). The temperatures are the authors' choices
for CIFAR-10 and CIFAR-100 (SINCERE 0.1 / SupCon 0.05 and SINCERE 0.05 /
SupCon 0.1).
"""

import dataclasses

import keras

from keras_sincere import losses
from keras_sincere._validation import check_integer
from keras_sincere._validation import check_non_negative
from keras_sincere._validation import check_number
from keras_sincere._validation import check_positive
from keras_sincere.losses.registry import ALIASES
from keras_sincere.schedules import WarmupCosineDecay

_PAPER_EPOCHS = 800
_PAPER_LEARNING_RATE = 0.5

# dataset -> canonical loss name -> temperature. CIFAR-10/100, SINCERE and
# SupCon: the authors' choices. CIFAR-2 and digits are not in the paper: 0.1,
# the value the authors' public configuration uses for CIFAR-2 and the usual
# SupCon default. epsilon-SupInfoNCE and InfoNCE have no temperature of their
# own in the paper and take SINCERE's (epsilon-SupInfoNCE with epsilon = 0 is
# SINCERE; InfoNCE is SINCERE with every sample its own class).
_TEMPERATURES = {
    "cifar10": {"sincere": 0.1, "supcon": 0.05, "epsilon_supinfonce": 0.1,
                "infonce": 0.1},
    "cifar100": {"sincere": 0.05, "supcon": 0.1, "epsilon_supinfonce": 0.05,
                 "infonce": 0.05},
    "cifar2": {"sincere": 0.1, "supcon": 0.1, "epsilon_supinfonce": 0.1,
               "infonce": 0.1},
    "digits": {"sincere": 0.1, "supcon": 0.1, "epsilon_supinfonce": 0.1,
               "infonce": 0.1},
}  # fmt: skip


def _canonical_loss(loss) -> str:
    """`losses.canonical_name(loss)`, with a message that names `loss`."""
    try:
        return losses.canonical_name(loss)
    except ValueError:
        accepted = ", ".join(map(repr, [*losses.LOSSES, *ALIASES]))
        raise ValueError(
            f"`loss` must be one of {accepted}. Received: loss={loss!r}"
        ) from None


@dataclasses.dataclass(frozen=True)
class Recipe:
    """Hyperparameters of one contrastive pre-training run.

    Build one with `paper_recipe` and change fields with
    `dataclasses.replace(recipe, epochs=10)`.

    Weight decay: Keras `SGD(weight_decay=wd)` is decoupled. Before each
    update it shrinks every trainable variable by `w <- w - lr * wd * w`,
    outside the momentum buffer. PyTorch's `SGD(weight_decay=wd)`, which the
    paper used, is coupled L2: it adds `wd * w` to the gradient, so the decay
    also goes through momentum. With momentum `mu` and slowly changing
    weights, PyTorch's shrinkage per step is about `lr * wd / (1 - mu)`,
    10 times Keras' at `mu = 0.9`. `optimizer()` passes `weight_decay`
    unchanged (the paper's number, Keras' semantics). For PyTorch's
    steady-state shrinkage use
    `dataclasses.replace(recipe, weight_decay=recipe.weight_decay / (1 -
    recipe.momentum))`; for exact coupled L2, add
    `keras.regularizers.L2(wd / 2)` to the kernels instead. Both frameworks
    decay every parameter, batch-norm scales and biases included, unless
    told otherwise (`optimizer.exclude_from_weight_decay`).

    Args:
        dataset: dataset name, as accepted by `keras_sincere.data.load_dataset`.
        loss: loss name, any `keras_sincere.losses.get` accepts; kept as
            the canonical name (`"sincere"`, `"supcon"`,
            `"epsilon_supinfonce"`, `"infonce"`), so `"eps"` becomes
            `"epsilon_supinfonce"`.
        temperature: loss temperature `T > 0`.
        learning_rate: peak learning rate, reached after the warm-up.
        epochs: training epochs.
        batch_size: samples per batch (each with its views). Defaults to 512.
        momentum: SGD momentum. Defaults to 0.9.
        weight_decay: Keras (decoupled) weight decay. Defaults to 1e-4.
        warmup_epochs: epochs of linear warm-up, `< epochs`. Defaults to 10.
        initial_fraction: warm-up start as a fraction of the peak. Defaults
            to 0.001.
        final_fraction: learning rate at the last step as a fraction of the
            peak. Defaults to 0.001.

    Example:

    >>> recipe = paper_recipe("cifar10", "sincere")
    >>> recipe.temperature, recipe.epochs, recipe.batch_size
    (0.1, 800, 512)
    >>> optimizer = recipe.optimizer(steps_per_epoch=50000 // 512)
    """

    dataset: str
    loss: str
    temperature: float
    learning_rate: float
    epochs: int
    batch_size: int = 512
    momentum: float = 0.9
    weight_decay: float = 1e-4
    warmup_epochs: int = 10
    initial_fraction: float = 0.001
    final_fraction: float = 0.001

    def __post_init__(self):
        # The one name of the loss, whichever spelling was given.
        object.__setattr__(self, "loss", _canonical_loss(self.loss))
        check_positive(self.temperature, "temperature")
        check_positive(self.learning_rate, "learning_rate")
        check_integer(self.epochs, "epochs")
        check_integer(self.batch_size, "batch_size")
        check_integer(
            self.warmup_epochs, "warmup_epochs", minimum=0, maximum=self.epochs - 1
        )
        # [0, 1): the checks of `_validation` have no exclusive maximum.
        if not 0 <= check_number(self.momentum, "momentum") < 1:
            raise ValueError(
                f"`momentum` must be in [0, 1). Received: momentum={self.momentum}"
            )
        check_non_negative(self.weight_decay, "weight_decay")

    def build_loss(self, **kwargs) -> keras.losses.Loss:
        """The loss of the recipe at its temperature (`losses.get`).

        Args:
            **kwargs: further constructor arguments of the loss
                (`chunk_size=...`, `epsilon=...`).

        Example:

        >>> paper_recipe("cifar10", "supcon").build_loss().temperature
        0.05
        """
        return losses.get(self.loss, temperature=self.temperature, **kwargs)

    def schedule(self, steps_per_epoch: int) -> WarmupCosineDecay:
        """The warm-up cosine schedule for `steps_per_epoch` updates an epoch."""
        return WarmupCosineDecay.from_epochs(
            peak_learning_rate=self.learning_rate,
            epochs=self.epochs,
            steps_per_epoch=steps_per_epoch,
            warmup_epochs=self.warmup_epochs,
            initial_fraction=self.initial_fraction,
            final_fraction=self.final_fraction,
        )

    def optimizer(self, steps_per_epoch: int) -> keras.optimizers.SGD:
        """SGD with momentum, weight decay and the warm-up cosine schedule.

        Args:
            steps_per_epoch: optimizer updates per epoch, e.g.
                `len(x_train) // batch_size` with `drop_remainder=True`.

        Returns:
            A new `keras.optimizers.SGD` (see the class docstring for how its
            decoupled `weight_decay` differs from PyTorch's).
        """
        return keras.optimizers.SGD(
            learning_rate=self.schedule(steps_per_epoch),
            momentum=self.momentum,
            weight_decay=self.weight_decay or None,
        )


def paper_recipe(dataset: str, loss: str = "sincere") -> Recipe:
    """The paper's hyperparameters for `dataset` and `loss`.

    | dataset  | epochs | batch | peak lr | T SINCERE | T SupCon | source |
    |----------|--------|-------|---------|-----------|----------|--------|
    | cifar10  | 800    | 512   | 0.5     | 0.1       | 0.05     | paper  |
    | cifar100 | 800    | 512   | 0.5     | 0.05      | 0.1      | paper  |
    | cifar2   | 800    | 512   | 0.5     | 0.1       | 0.1      | chosen |
    | digits   | 100    | 128   | 0.125   | 0.1       | 0.1      | chosen |

    All use SGD with momentum 0.9, weight decay 1e-4 and 10 warm-up epochs
    from 0.1% to 100% of the peak, then cosine decay to 0.1% (appendix J).
    The peak learning rate 0.5 comes from the authors' public command, not
    the paper. CIFAR-2 (cat vs dog) is in the paper without its
    temperatures: 0.1 as in the authors' CIFAR-2 configuration. digits (1438
    training images) is not in the paper: batch 128 gives 11 steps an epoch,
    the learning rate is 0.5 scaled linearly with the batch size
    (0.5 * 128 / 512), and 100 epochs keep a CPU run short.
    `"epsilon_supinfonce"` and `"infonce"` take SINCERE's temperature.

    Args:
        dataset: `"cifar10"`, `"cifar100"`, `"cifar2"` or `"digits"`
            (case and `-` are ignored: `"CIFAR-10"` works).
        loss: a name `keras_sincere.losses.get` accepts (`"sincere"`,
            `"supcon"`, `"epsilon_supinfonce"` or `"eps"`, `"infonce"`);
            case and `-` are ignored (`"SupCon"` works). Defaults to
            `"sincere"`.

    Returns:
        A frozen `Recipe`.

    Example:

    >>> paper_recipe("CIFAR-100", "supcon").temperature
    0.1
    """
    dataset_key = str(dataset).lower().replace("-", "")
    if dataset_key not in _TEMPERATURES:
        raise ValueError(
            f"`dataset` must be one of {', '.join(map(repr, _TEMPERATURES))}. "
            f"Received: dataset={dataset!r}"
        )
    if loss not in losses.LOSSES and loss not in ALIASES:
        loss = str(loss).lower().replace("-", "_")
    loss = _canonical_loss(loss)
    temperature = _TEMPERATURES[dataset_key][loss]
    if dataset_key == "digits":
        return Recipe(
            dataset=dataset_key,
            loss=loss,
            temperature=temperature,
            learning_rate=_PAPER_LEARNING_RATE * 128 / 512,
            epochs=100,
            batch_size=128,
        )
    return Recipe(
        dataset=dataset_key,
        loss=loss,
        temperature=temperature,
        learning_rate=_PAPER_LEARNING_RATE,
        epochs=_PAPER_EPOCHS,
    )
