"""ContrastiveModel with a cross-batch memory (`memory_size`): the queue in fit.

The queue's own behaviour (order, overflow, warm-up, reset) is tested in
`embedding_queue_test.py`; here, what `fit` puts in it, when the loss uses
it, jit against eager, saving and resuming.
"""

import keras
import numpy as np
import pytest

from keras_sincere import losses
from keras_sincere import models
from tests.models.contrastive_model_test import InterruptAfter
from tests.models.contrastive_model_test import tiny_encoder
from tests.models.contrastive_model_test import toy_images

BATCH = 8  # samples per step; 2 views: N = 16 embeddings enqueued a step


def memory_model(memory_size=40, warmup=0, seed=0, learning_rate=0.05, jit=False):
    """A tiny model whose augmenter draws no random numbers, compiled."""
    keras.utils.set_random_seed(seed)
    model = models.ContrastiveModel(
        tiny_encoder(),
        models.ProjectionHead(hidden_dim=16, output_dim=8),
        augmenter=keras.layers.Rescaling(0.8, offset=0.1),
        memory_size=memory_size,
        memory_warmup_steps=warmup,
    )
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate),
        loss=losses.SincereLoss(0.5),
        jit_compile=jit,
        run_eagerly=not jit,
    )
    return model


def memory_state(model):
    memory = {
        key: keras.ops.convert_to_numpy(value)
        for key, value in model.memory.memory().items()
    }
    return memory["memory_embeddings"], memory["memory_labels"], memory["memory_mask"]


def fit(model, images, labels, **kwargs):
    return model.fit(
        images, labels, batch_size=BATCH, shuffle=False, verbose=0, **kwargs
    )


class StepLosses(keras.callbacks.Callback):
    """The running mean of the loss after each step, as `fit` logs it."""

    def on_train_begin(self, logs=None):
        self.losses = []

    def on_train_batch_end(self, batch, logs=None):
        self.losses.append(float(logs["loss"]))


class MemoryAfterEachStep(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.states = []

    def on_train_batch_end(self, batch, logs=None):
        self.states.append(memory_state(self.model))


def test_the_queue_holds_the_last_embeddings_of_training_in_order():
    images, labels = toy_images(samples=BATCH * 3)
    # No learning: the embeddings a step enqueues are the model's own, in
    # training mode (batch statistics), of that step's batch.
    model = memory_model(memory_size=40, learning_rate=0.0)
    recorder = MemoryAfterEachStep()
    fit(model, images, labels, epochs=1, callbacks=[recorder])
    expected, expected_labels = [], []
    for start in range(0, len(images), BATCH):
        views = model(images[start : start + BATCH], training=True)
        expected.append(keras.ops.convert_to_numpy(views).reshape(-1, 8))
        expected_labels.append(np.repeat(labels[start : start + BATCH], 2))
    expected = np.concatenate(expected)
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    expected_labels = np.concatenate(expected_labels)
    # After step 2 the queue is partly filled; after step 3 the oldest 8 of
    # the 48 embeddings have left it.
    for steps, (memory, memory_labels, mask) in zip(
        (1, 2, 3), recorder.states, strict=True
    ):
        held = min(2 * BATCH * steps, 40)
        seen = 2 * BATCH * steps
        np.testing.assert_allclose(
            memory[-held:], expected[seen - held : seen], rtol=1e-4, atol=1e-5
        )
        np.testing.assert_array_equal(
            memory_labels[-held:], expected_labels[seen - held : seen]
        )
        np.testing.assert_array_equal(mask, np.arange(40) >= 40 - held)


def test_the_loss_uses_the_memory_after_the_warm_up_only():
    images, labels = toy_images(samples=BATCH * 4)
    recorded = {}
    for memory_size in (0, 64):
        model = memory_model(memory_size=memory_size, warmup=2)
        recorder = StepLosses()
        fit(model, images, labels, epochs=1, callbacks=[recorder])
        recorded[memory_size] = np.array(recorder.losses)
    # Steps 1 and 2: the memory is filling but unused; the same run.
    np.testing.assert_allclose(recorded[64][:2], recorded[0][:2], rtol=1e-6)
    # From step 3 each anchor also meets the 32 embeddings of steps 1-2.
    assert np.all(np.abs(recorded[64][2:] - recorded[0][2:]) > 1e-3)


def test_a_loss_that_does_not_normalise_trains_with_a_memory():
    # The keys are then the memory's values themselves, which the step
    # overwrites after the loss: its backward pass must not see the new ones.
    images, labels = toy_images(samples=BATCH * 3)
    model = memory_model(memory_size=32)
    model.compile(optimizer="sgd", loss=losses.SincereLoss(0.5, normalize=False))
    history = fit(model, images, labels, epochs=2)
    assert np.all(np.isfinite(history.history["loss"]))


def test_evaluation_uses_no_memory():
    images, labels = toy_images(samples=BATCH * 3)
    model = memory_model(memory_size=32)
    fit(model, images, labels, epochs=1)
    before = memory_state(model)
    with_memory = model.evaluate(images, labels, batch_size=BATCH, verbose=0)
    model.reset_memory()
    assert not memory_state(model)[2].any()
    without = model.evaluate(images, labels, batch_size=BATCH, verbose=0)
    assert with_memory == pytest.approx(without, rel=1e-6)
    assert before[2].all()


def test_jit_compiled_fit_matches_eager_fit():
    images, labels = toy_images(samples=BATCH * 4)
    runs = {}
    for jit in (False, True):
        model = memory_model(memory_size=24, jit=jit)
        assert model.jit_compile is jit
        history = fit(model, images, labels, epochs=2)
        runs[jit] = (history.history["loss"], memory_state(model))
    np.testing.assert_allclose(runs[True][0], runs[False][0], rtol=1e-3)
    for compiled, eager in zip(runs[True][1], runs[False][1], strict=True):
        np.testing.assert_allclose(compiled, eager, rtol=1e-3, atol=1e-4)


def test_save_and_load_keep_the_memory(tmp_path):
    images, labels = toy_images(samples=BATCH * 2)
    model = memory_model(memory_size=20, warmup=3)
    fit(model, images, labels, epochs=1)
    model.save(tmp_path / "model.keras")
    restored = keras.models.load_model(tmp_path / "model.keras")
    assert (restored.memory_size, restored.memory_warmup_steps) == (20, 3)
    for got, expected in zip(memory_state(restored), memory_state(model), strict=True):
        np.testing.assert_array_equal(got, expected)
    assert int(restored.memory.steps.numpy()) == 2


def _train(backup_dir=None, interrupt_after=None):
    images, labels = toy_images(samples=BATCH * 3)
    model = memory_model(memory_size=40, warmup=2, seed=3)
    callbacks = []
    if backup_dir is not None:
        callbacks.append(keras.callbacks.BackupAndRestore(str(backup_dir)))
    if interrupt_after is not None:
        callbacks.append(InterruptAfter(interrupt_after))
    fit(model, images, labels, epochs=3, callbacks=callbacks)
    return model


def test_backup_and_restore_resumes_with_the_memory(tmp_path):
    reference = _train()
    with pytest.raises(KeyboardInterrupt):
        _train(backup_dir=tmp_path, interrupt_after=1)
    resumed = _train(backup_dir=tmp_path)
    for got, expected in zip(
        memory_state(resumed), memory_state(reference), strict=True
    ):
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)
    for got, expected in zip(
        resumed.get_weights(), reference.get_weights(), strict=True
    ):
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


def test_config_round_trip_keeps_the_memory_settings():
    model = memory_model(memory_size=12, warmup=5)
    restored = models.ContrastiveModel.from_config(model.get_config())
    assert (restored.memory_size, restored.memory_warmup_steps) == (12, 5)
    assert restored.memory.size == 12


@pytest.mark.parametrize("size", [-1, 2.5, True, "8"])
def test_rejects_a_memory_size_that_is_not_a_non_negative_integer(size):
    with pytest.raises(ValueError, match="`memory_size` must be an integer >= 0"):
        models.ContrastiveModel(
            tiny_encoder(), models.ProjectionHead(), memory_size=size
        )


def test_rejects_negative_warmup_steps():
    with pytest.raises(ValueError, match="`memory_warmup_steps` must be"):
        models.ContrastiveModel(
            tiny_encoder(), models.ProjectionHead(), memory_warmup_steps=-1
        )


def test_a_memory_needs_a_loss_of_this_package():
    images, labels = toy_images(samples=BATCH)
    model = memory_model(memory_size=8)
    model.compile(optimizer="sgd", loss="mse", run_eagerly=True)
    with pytest.raises(ValueError, match="`memory_size` needs a keras_sincere loss"):
        fit(model, images, labels, epochs=1)


def test_reset_memory_without_a_memory_is_an_error():
    model = memory_model(memory_size=0)
    assert model.memory is None
    with pytest.raises(ValueError, match="memory_size=0"):
        model.reset_memory()


def test_fit_with_multi_hot_labels_fills_the_memory_with_label_sets():
    images, labels = toy_images(samples=BATCH * 2)
    sets = np.stack([labels % 2 == 0, labels > 1, labels == 3], axis=1)
    keras.utils.set_random_seed(0)
    model = models.ContrastiveModel(
        tiny_encoder(),
        models.ProjectionHead(hidden_dim=16, output_dim=8),
        augmenter=keras.layers.Rescaling(0.8, offset=0.1),
        memory_size=24,
        memory_label_classes=3,
    )
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss=losses.SincereLoss(0.5))
    history = fit(model, images, sets.astype("float32"), epochs=1)
    assert np.isfinite(history.history["loss"][0])
    _, memory_labels, mask = memory_state(model)
    # The last 24 of the 32 embeddings: each sample's set, once per view.
    np.testing.assert_array_equal(memory_labels, np.repeat(sets, 2, axis=0)[-24:])
    assert mask.all()
    with pytest.raises(ValueError, match=r"memory_label_classes=None"):
        memory_model().fit(images, labels[:, None] == np.arange(3), epochs=1)
