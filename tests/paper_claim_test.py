"""The paper's claim as a guard, on every backend: a short run on the digits.

SINCERE against SupCon, three seeds each, with the same small model and
budget: a two-layer MLP encoder on the 8x8 digits, two views per image made
by Gaussian noise, the paper's projection head (128 -> 32 here), 30 epochs of
batch 128 (360 steps), the warm-up cosine schedule at 0.5 x 128 / 512, and
T = 0.1 for both losses. A run takes seconds on a 2-core CPU; the ResNet plan
of `keras-sincere compare` is checked by the slow test at the end. The
paper's findings that must hold (Table 1 and Table 4): SINCERE's target/noise
margin above SupCon's and its final training loss below, on at least 2 of the
3 seeds, by more than the gaps below.

How the gaps were chosen, from measured runs of this test's setting (3 seeds on
each of TensorFlow, JAX and PyTorch, recorded in the closing note of the
change that added it): SINCERE's margin exceeded SupCon's by at least 0.19 per
seed and its final loss was lower by at least 3.1. `MARGIN_GAP` and `LOSS_GAP`
are about a quarter and a third of those, room for the noise between backends
and versions. A version whose SINCERE is swapped for SupCon trains two
identical runs (gaps of exactly 0) and fails both tests.
"""

import keras
import numpy as np
import pytest

import keras_sincere as ks
from keras_sincere import experiments

SEEDS = (0, 1, 2)
EPOCHS = 30
BATCH_SIZE = 128
MARGIN_GAP = 0.05
LOSS_GAP = 1.0


def _mlp_model(seed):
    encoder = keras.Sequential(
        [
            keras.Input((8, 8, 3)),
            keras.layers.Flatten(),
            keras.layers.Dense(256, activation="relu"),
            keras.layers.Dense(128, activation="relu"),
        ]
    )
    views = keras.Sequential(
        [keras.Input((8, 8, 3)), keras.layers.GaussianNoise(0.2, seed=seed)]
    )
    return ks.models.ContrastiveModel(
        encoder, ks.models.ProjectionHead(128, 32), augmenter=views
    )


def _train_and_measure(loss, seed, data):
    (x_train, y_train), _ = data
    keras.utils.set_random_seed(seed)
    model = _mlp_model(seed)
    recipe = ks.recipes.Recipe(
        "digits",
        loss,
        temperature=0.1,
        learning_rate=0.5 * BATCH_SIZE / 512,
        epochs=EPOCHS,
        batch_size=BATCH_SIZE,
        warmup_epochs=1,
    )
    steps = int(np.ceil(len(x_train) / BATCH_SIZE))
    model.compile(
        optimizer=recipe.optimizer(steps),
        loss=recipe.build_loss(),
    )
    history = model.fit(
        x_train, y_train, batch_size=BATCH_SIZE, epochs=EPOCHS, verbose=0
    ).history["loss"]
    metrics = experiments.evaluate(model, data, probe_epochs=1, seed=seed).metrics
    return {"history": history, **metrics}


@pytest.fixture(scope="module")
def runs():
    data = ks.data.load_dataset("digits", image_size=None)
    return {
        (loss, seed): _train_and_measure(loss, seed, data)
        for loss in ("sincere", "supcon")
        for seed in SEEDS
    }


def _gaps(runs, figure):
    return np.array(
        [figure(runs[("sincere", s)]) - figure(runs[("supcon", s)]) for s in SEEDS]
    )


def test_sincere_widens_the_margin(runs):
    gaps = _gaps(runs, lambda run: run["margin"])
    assert np.sum(gaps > MARGIN_GAP) >= 2, gaps


def test_sincere_training_loss_ends_below_supcons(runs):
    gaps = _gaps(runs, lambda run: run["history"][-1])
    assert np.sum(gaps < -LOSS_GAP) >= 2, gaps


def test_both_losses_leave_the_collapsed_start(runs):
    for key, run in runs.items():
        assert run["history"][-1] < 0.9 * run["history"][0], key
        assert run["mean_pairwise_cosine"] < experiments.MAX_MEAN_COSINE, key


@pytest.mark.slow
def test_main_command_shows_the_claim_on_every_seed():
    """`keras-sincere compare --dataset digits` with its default plan."""
    result = experiments.compare(
        "digits", seeds=SEEDS, probe_epochs=5, bootstrap_resamples=100, log=None
    )
    assert not result.unhealthy()
    margin = result.figures("sincere", "margin") - result.figures("supcon", "margin")
    loss = result.figures("sincere", "loss_final") - result.figures(
        "supcon", "loss_final"
    )
    # Measured (docs/reproducing.md): the margin gap is 0.036-0.100 per seed
    # except one TensorFlow seed (-0.001); the loss gap -1.15 to -1.78 on every
    # seed.
    assert np.sum(margin > 0.01) >= 2 and margin.mean() > 0.01, margin
    assert np.all(loss < -LOSS_GAP), loss
