"""Recipe: the paper's values (appendix J) and the optimizer built from them."""

import dataclasses

import keras
import pytest
from keras import ops

from keras_sincere.losses import EpsilonSupInfoNCELoss
from keras_sincere.recipes import Recipe
from keras_sincere.recipes import paper_recipe
from keras_sincere.schedules import WarmupCosineDecay


@pytest.mark.parametrize(
    "dataset, loss, temperature",
    [
        ("cifar10", "sincere", 0.1),
        ("cifar10", "supcon", 0.05),
        ("cifar100", "sincere", 0.05),
        ("cifar100", "supcon", 0.1),
        ("cifar2", "sincere", 0.1),
        ("cifar2", "supcon", 0.1),
        ("cifar10", "epsilon_supinfonce", 0.1),
        ("cifar100", "infonce", 0.05),
    ],
)
def test_paper_temperatures(dataset, loss, temperature):
    recipe = paper_recipe(dataset, loss)
    assert recipe.temperature == temperature
    assert (recipe.dataset, recipe.loss) == (dataset, loss)


@pytest.mark.parametrize("dataset", ["cifar10", "cifar100", "cifar2"])
def test_appendix_j_values(dataset):
    recipe = paper_recipe(dataset, "sincere")
    assert recipe.epochs == 800
    assert recipe.batch_size == 512
    assert recipe.momentum == 0.9
    assert recipe.weight_decay == 1e-4
    assert recipe.warmup_epochs == 10
    assert recipe.initial_fraction == recipe.final_fraction == 0.001
    assert recipe.learning_rate == 0.5


def test_digits_recipe_is_small():
    recipe = paper_recipe("digits")
    assert (recipe.batch_size, recipe.epochs, recipe.learning_rate) == (128, 100, 0.125)
    assert recipe.loss == "sincere"


def test_names_are_normalised():
    assert paper_recipe("CIFAR-10", "SupCon") == paper_recipe("cifar10", "supcon")


def test_loss_names_are_canonical_and_build_the_loss():
    recipe = dataclasses.replace(paper_recipe("cifar10"), loss="eps")
    assert recipe.loss == "epsilon_supinfonce"
    assert paper_recipe("cifar100", "EpsilonSupInfoNCELoss").temperature == 0.05
    loss = recipe.build_loss()
    assert isinstance(loss, EpsilonSupInfoNCELoss) and loss.temperature == 0.1
    assert paper_recipe("cifar10", "supcon").build_loss().temperature == 0.05


@pytest.mark.parametrize(
    "dataset, loss, match",
    [("imagenet", "sincere", "dataset"), ("cifar10", "triplet", "loss")],
)
def test_unknown_names(dataset, loss, match):
    with pytest.raises(ValueError, match=match):
        paper_recipe(dataset, loss)


def test_frozen_and_replace():
    recipe = paper_recipe("cifar10")
    with pytest.raises(dataclasses.FrozenInstanceError):
        recipe.epochs = 1
    short = dataclasses.replace(recipe, epochs=20)
    assert short.epochs == 20 and recipe.epochs == 800


@pytest.mark.parametrize(
    "change, match",
    [
        ({"epochs": 10}, "warmup_epochs"),
        ({"temperature": 0.0}, "temperature"),
        ({"learning_rate": -1.0}, "learning_rate"),
        ({"batch_size": 0}, "batch_size"),
        ({"epochs": 20.0}, "epochs"),
        ({"momentum": 1.0}, "momentum"),
        ({"weight_decay": -1e-4}, "weight_decay"),
    ],
)
def test_invalid_recipe(change, match):
    with pytest.raises(ValueError, match=match):
        dataclasses.replace(paper_recipe("cifar10"), **change)


def test_optimizer():
    recipe = paper_recipe("cifar10", "sincere")
    steps_per_epoch = 50000 // recipe.batch_size
    optimizer = recipe.optimizer(steps_per_epoch)
    assert isinstance(optimizer, keras.optimizers.SGD)
    config = optimizer.get_config()
    assert config["momentum"] == pytest.approx(0.9)
    assert config["weight_decay"] == pytest.approx(1e-4)
    assert not config["nesterov"]
    schedule = recipe.schedule(steps_per_epoch)
    assert isinstance(schedule, WarmupCosineDecay)
    assert schedule.total_steps == 800 * steps_per_epoch
    assert schedule.warmup_steps == 10 * steps_per_epoch
    assert schedule.peak_learning_rate == 0.5
    # The optimizer reads the schedule at its iteration count: 0.1% at 0.
    assert float(ops.convert_to_numpy(optimizer.learning_rate)) == pytest.approx(0.0005)


def test_zero_weight_decay_means_none():
    recipe = dataclasses.replace(paper_recipe("cifar10"), weight_decay=0.0)
    assert recipe.optimizer(10).get_config()["weight_decay"] is None


def test_recipe_is_plain_data():
    recipe = Recipe(
        dataset="digits",
        loss="sincere",
        temperature=0.2,
        learning_rate=0.1,
        epochs=3,
        warmup_epochs=1,
    )
    assert dataclasses.asdict(recipe)["temperature"] == 0.2
