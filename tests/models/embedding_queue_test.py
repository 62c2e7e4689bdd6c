"""EmbeddingQueue: order, overflow, mask, warm-up, reset, config, bad input."""

import keras
import numpy as np
import pytest

from keras_sincere import models


def unit(x):
    x = np.asarray(x, "float32")
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def state(queue):
    memory = {k: keras.ops.convert_to_numpy(v) for k, v in queue.memory().items()}
    return memory["memory_embeddings"], memory["memory_labels"], memory["memory_mask"]


def batches(count, size, seed=0):
    rng = np.random.default_rng(seed)
    return [
        (rng.normal(size=(size, 3)).astype("float32"), rng.integers(0, 9, size))
        for _ in range(count)
    ]


def test_holds_the_last_embeddings_in_order_and_drops_the_oldest():
    queue = models.EmbeddingQueue(7)
    queue.build((None, 3))
    seen_embeddings, seen_labels = [], []
    for step, (embeddings, labels) in enumerate(batches(4, 3), start=1):
        queue.enqueue(embeddings, labels)
        seen_embeddings.append(unit(embeddings))
        seen_labels.append(labels)
        held = min(3 * step, 7)
        memory, memory_labels, mask = state(queue)
        np.testing.assert_allclose(
            memory[-held:], np.concatenate(seen_embeddings)[-held:], rtol=1e-6
        )
        np.testing.assert_array_equal(
            memory_labels[-held:], np.concatenate(seen_labels)[-held:]
        )
        np.testing.assert_array_equal(mask, np.arange(7) >= 7 - held)
        np.testing.assert_array_equal(memory[: 7 - held], 0.0)


def test_a_batch_larger_than_the_queue_leaves_its_last_embeddings():
    queue = models.EmbeddingQueue(4)
    ((embeddings, labels),) = batches(1, 6)
    queue.enqueue(embeddings, labels)
    memory, memory_labels, mask = state(queue)
    np.testing.assert_allclose(memory, unit(embeddings)[-4:], rtol=1e-6)
    np.testing.assert_array_equal(memory_labels, labels[-4:])
    assert mask.all()


def test_no_slot_is_in_use_before_the_warm_up_ends():
    queue = models.EmbeddingQueue(8, warmup_steps=2)
    queue.build((None, 3))
    for step, (embeddings, labels) in enumerate(batches(3, 2), start=1):
        queue.enqueue(embeddings, labels)
        _, _, mask = state(queue)
        # Filled from the first step, used from the second on.
        expected = (np.arange(8) >= 8 - 2 * step) if step >= 2 else np.zeros(8, bool)
        np.testing.assert_array_equal(mask, expected)


def test_reset_empties_the_queue_and_restarts_the_warm_up():
    queue = models.EmbeddingQueue(4, warmup_steps=1)
    for embeddings, labels in batches(2, 3):
        queue.enqueue(embeddings, labels)
    assert state(queue)[2].any()
    queue.reset()
    memory, memory_labels, mask = state(queue)
    assert not mask.any()
    np.testing.assert_array_equal(memory, 0.0)
    np.testing.assert_array_equal(memory_labels, 0)
    ((embeddings, labels),) = batches(1, 3, seed=1)
    queue.enqueue(embeddings, labels)
    np.testing.assert_array_equal(state(queue)[2], [False, True, True, True])


def test_labels_are_optional():
    queue = models.EmbeddingQueue(2)
    queue.enqueue(np.ones((2, 3), "float32"))
    np.testing.assert_array_equal(state(queue)[1], [0, 0])


def test_config_round_trip():
    queue = models.EmbeddingQueue(16, warmup_steps=3, name="q")
    restored = models.EmbeddingQueue.from_config(queue.get_config())
    assert (restored.size, restored.warmup_steps, restored.name) == (16, 3, "q")


@pytest.mark.parametrize("size", [0, -1, 2.5, True, None])
def test_rejects_a_size_that_is_not_a_positive_integer(size):
    with pytest.raises(ValueError, match="`size` must be an integer >= 1"):
        models.EmbeddingQueue(size)


@pytest.mark.parametrize("steps", [-1, 1.5])
def test_rejects_negative_warmup_steps(steps):
    with pytest.raises(ValueError, match="`warmup_steps` must be an integer >= 0"):
        models.EmbeddingQueue(4, warmup_steps=steps)


def test_rejects_embeddings_of_another_dimension_or_label_count():
    queue = models.EmbeddingQueue(4)
    queue.build((None, 3))
    with pytest.raises(ValueError, match=r"embeddings.shape=\(2, 5\)"):
        queue.enqueue(np.ones((2, 5), "float32"), np.zeros(2))
    with pytest.raises(ValueError, match=r"labels.shape=\(3,\)"):
        queue.enqueue(np.ones((2, 3), "float32"), np.zeros(3))


def test_holds_multi_hot_label_sets_with_label_classes():
    queue = models.EmbeddingQueue(5, label_classes=3)
    queue.build((None, 3))
    sets = np.array([[1, 0, 1], [0, 0, 0], [0, 1, 0]])
    queue.enqueue(np.ones((3, 3), "float32"), sets.astype(bool))
    queue.enqueue(np.ones((1, 3), "float32"))  # no labels: an empty set
    _, labels, mask = state(queue)
    assert labels.shape == (5, 3)
    np.testing.assert_array_equal(labels[1:], np.concatenate([sets, [[0, 0, 0]]]))
    np.testing.assert_array_equal(mask, [False, True, True, True, True])
    config = models.EmbeddingQueue.from_config(queue.get_config()).get_config()
    assert config["label_classes"] == 3


def test_rejects_labels_of_the_other_kind():
    integer_queue = models.EmbeddingQueue(4)
    integer_queue.build((None, 3))
    with pytest.raises(ValueError, match=r"label_classes=C.*labels.shape=\(2, 3\)"):
        integer_queue.enqueue(np.ones((2, 3), "float32"), np.eye(3)[:2])
    set_queue = models.EmbeddingQueue(4, label_classes=3)
    set_queue.build((None, 3))
    with pytest.raises(ValueError, match=r"multi-hot \(n, 3\).*labels.shape=\(2,\)"):
        set_queue.enqueue(np.ones((2, 3), "float32"), np.zeros(2))
    with pytest.raises(ValueError, match="`label_classes` must be an integer >= 2"):
        models.EmbeddingQueue(4, label_classes=1)
