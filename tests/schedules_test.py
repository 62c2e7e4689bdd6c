"""WarmupCosineDecay: values against the old numpy formula and Keras's
CosineDecay, no decay phase, tracing, serialisation (configs saved before)."""

import copy

import keras
import numpy as np
import pytest
from keras import ops

from keras_sincere.schedules import WarmupCosineDecay

PEAK = 0.5
TOTAL = 1000
WARMUP = 100


def numpy_schedule(step, peak, total, warmup, initial=0.001, final=0.001):
    """The docstring formula, written directly."""
    if step < warmup:
        return peak * (initial + (1 - initial) * step / warmup)
    progress = min((step - warmup) / (total - 1 - warmup), 1.0)
    return peak * (final + (1 - final) * 0.5 * (1 + np.cos(np.pi * progress)))


def value(schedule, step):
    return float(ops.convert_to_numpy(schedule(step)))


@pytest.fixture
def schedule():
    return WarmupCosineDecay(PEAK, total_steps=TOTAL, warmup_steps=WARMUP)


@pytest.mark.parametrize(
    "step, expected",
    [
        (0, 0.001 * PEAK),  # start of the warm-up
        (WARMUP, PEAK),  # end of the warm-up
        ((WARMUP + TOTAL - 1) / 2, PEAK * (0.001 + 0.999 * 0.5)),  # mid cosine
        (TOTAL - 1, 0.001 * PEAK),  # last step
        (TOTAL, 0.001 * PEAK),  # after: stays final
        (10 * TOTAL, 0.001 * PEAK),
    ],
)
def test_landmarks(schedule, step, expected):
    assert value(schedule, step) == pytest.approx(expected, rel=1e-5)


def test_matches_numpy_formula_everywhere(schedule):
    steps = np.arange(0, TOTAL + 50)
    got = ops.convert_to_numpy(schedule(steps))
    expected = [numpy_schedule(s, PEAK, TOTAL, WARMUP) for s in steps]
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-7)
    assert got.dtype == np.float32


def test_monotone_up_then_down(schedule):
    got = ops.convert_to_numpy(schedule(np.arange(TOTAL + 10)))
    assert np.all(np.diff(got[: WARMUP + 1]) > 0)
    assert np.all(np.diff(got[WARMUP:TOTAL]) < 0)
    assert np.all(got[TOTAL - 1 :] == got[TOTAL - 1])
    assert got.max() == pytest.approx(PEAK)


def test_custom_fractions_and_no_warmup():
    schedule = WarmupCosineDecay(
        2.0, total_steps=11, warmup_steps=0, initial_fraction=0.5, final_fraction=0.1
    )
    assert value(schedule, 0) == pytest.approx(2.0)
    assert value(schedule, 5) == pytest.approx(2.0 * (0.1 + 0.9 * 0.5))
    assert value(schedule, 10) == pytest.approx(0.2)
    warm = WarmupCosineDecay(1.0, 10, 4, initial_fraction=0.5)
    assert value(warm, 0) == pytest.approx(0.5)
    assert value(warm, 2) == pytest.approx(0.75)


def test_is_keras_cosine_decay_with_warmup(schedule):
    """The same schedule as Keras's, to float32 rounding, with its attributes."""
    assert isinstance(schedule, keras.optimizers.schedules.CosineDecay)
    keras_schedule = keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=0.001 * PEAK,
        decay_steps=TOTAL - 1 - WARMUP,
        alpha=0.001,
        warmup_target=PEAK,
        warmup_steps=WARMUP,
    )
    for name in ("initial_learning_rate", "decay_steps", "alpha", "warmup_target"):
        assert getattr(schedule, name) == pytest.approx(getattr(keras_schedule, name))
    assert schedule.warmup_steps == keras_schedule.warmup_steps
    # Keras's takes one step at a time (`ops.cond`, compiled per call on JAX).
    steps = [0, 1, 37, WARMUP - 1, WARMUP, WARMUP + 1, 420, 777, TOTAL - 1, TOTAL + 9]
    got = ops.convert_to_numpy(schedule(np.array(steps)))
    expected = [value(keras_schedule, step) for step in steps]
    np.testing.assert_allclose(got, expected, rtol=1e-5)


@pytest.mark.parametrize("total, warmup", [(1, 0), (5, 4), (2, 1)])
def test_no_decay_phase(total, warmup):
    """`decay_steps = 0` (refused by Keras): the final value from the warm-up's end."""
    schedule = WarmupCosineDecay(2.0, total, warmup, initial_fraction=0.5)
    assert schedule.decay_steps == 0
    got = ops.convert_to_numpy(schedule(np.arange(total + 3)))
    expected = [numpy_schedule(s, 2.0, total, warmup, 0.5) for s in range(warmup)]
    expected += [2.0 * 0.001] * (total + 3 - warmup)
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_from_epochs():
    schedule = WarmupCosineDecay.from_epochs(0.5, epochs=800, steps_per_epoch=97)
    assert schedule.total_steps == 800 * 97
    assert schedule.warmup_steps == 10 * 97
    assert schedule.initial_fraction == schedule.final_fraction == 0.001
    with pytest.raises(ValueError, match="warmup_epochs"):
        WarmupCosineDecay.from_epochs(0.5, epochs=10, steps_per_epoch=3)
    with pytest.raises(ValueError, match="steps_per_epoch"):
        WarmupCosineDecay.from_epochs(0.5, epochs=20, steps_per_epoch=0)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"peak_learning_rate": 0.0}, "peak_learning_rate"),
        ({"total_steps": 0}, "total_steps"),
        ({"warmup_steps": TOTAL}, "warmup_steps"),
        ({"warmup_steps": -1}, "warmup_steps"),
        ({"initial_fraction": 1.5}, "initial_fraction"),
        ({"final_fraction": -0.1}, "final_fraction"),
    ],
)
def test_invalid_arguments(kwargs, match):
    arguments = {"peak_learning_rate": PEAK, "total_steps": TOTAL}
    arguments["warmup_steps"] = WARMUP
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=match):
        WarmupCosineDecay(**arguments)


def test_config_round_trip(schedule):
    restored = keras.optimizers.schedules.deserialize(
        keras.optimizers.schedules.serialize(schedule)
    )
    assert isinstance(restored, WarmupCosineDecay)
    assert restored.get_config() == schedule.get_config()
    optimizer = keras.optimizers.SGD(learning_rate=schedule, momentum=0.9)
    clone = keras.optimizers.SGD.from_config(optimizer.get_config())
    assert (
        clone.get_config()["learning_rate"] == optimizer.get_config()["learning_rate"]
    )
    # At iteration 0 the restored optimizer reads the schedule's first value.
    assert float(ops.convert_to_numpy(clone.learning_rate)) == pytest.approx(
        0.001 * PEAK
    )


# An SGD with this schedule as `keras.saving.serialize_keras_object` wrote it
# before the schedule was built on Keras's CosineDecay (inside `.keras` files).
SAVED_BEFORE = {
    "module": "keras.optimizers",
    "class_name": "SGD",
    "config": {
        "name": "sgd",
        "learning_rate": {
            "module": "keras_sincere.schedules",
            "class_name": "WarmupCosineDecay",
            "config": {
                "peak_learning_rate": 0.5,
                "total_steps": 1000,
                "warmup_steps": 100,
                "initial_fraction": 0.001,
                "final_fraction": 0.001,
            },
            "registered_name": "keras_sincere>WarmupCosineDecay",
        },
        "weight_decay": None,
        "clipnorm": None,
        "global_clipnorm": None,
        "clipvalue": None,
        "use_ema": False,
        "ema_momentum": 0.99,
        "ema_overwrite_frequency": None,
        "loss_scale_factor": None,
        "gradient_accumulation_steps": None,
        "momentum": 0.9,
        "nesterov": False,
    },
    "registered_name": None,
}


def test_an_optimizer_saved_before_loads(schedule):
    # Keras replaces the nested config by the object it builds: pass a copy.
    optimizer = keras.saving.deserialize_keras_object(copy.deepcopy(SAVED_BEFORE))
    saved = SAVED_BEFORE["config"]["learning_rate"]
    config = optimizer.get_config()["learning_rate"]
    assert config == saved  # and it would be saved again as before
    restored = keras.optimizers.schedules.deserialize(config)
    assert isinstance(restored, WarmupCosineDecay)
    assert restored.get_config() == schedule.get_config()
    assert float(ops.convert_to_numpy(optimizer.learning_rate)) == pytest.approx(
        0.001 * PEAK
    )


def fit_tiny_model(jit_compile):
    schedule = WarmupCosineDecay(0.1, total_steps=6, warmup_steps=2)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    optimizer = keras.optimizers.SGD(learning_rate=schedule, momentum=0.9)
    model.compile(optimizer=optimizer, loss="mse", jit_compile=jit_compile)
    x = np.random.default_rng(0).normal(size=(12, 3)).astype("float32")
    history = model.fit(x, x[:, :1], batch_size=2, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert int(ops.convert_to_numpy(optimizer.iterations)) == 6
    assert float(ops.convert_to_numpy(optimizer.learning_rate)) == pytest.approx(
        0.1 * 0.001
    )


def test_traced_inside_jitted_fit():
    """The optimizer evaluates the schedule on its traced iteration count.

    XLA on TensorFlow and JAX; torch.compile takes half a minute, so torch
    runs eagerly here and compiled in the slow test below.
    """
    fit_tiny_model(jit_compile=keras.backend.backend() != "torch")


@pytest.mark.slow
@pytest.mark.skipif(keras.backend.backend() != "torch", reason="torch.compile only")
def test_inside_torch_compiled_fit():
    fit_tiny_model(jit_compile=True)
