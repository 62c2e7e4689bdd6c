"""ClassBalancedSampler: m per class, k classes, determinism, coverage, errors."""

import numpy as np
import pytest

from keras_sincere.data import ClassBalancedSampler

LABELS = np.repeat(np.arange(10), 40)  # 400 samples, 10 balanced classes


def epoch(sampler):
    return [np.asarray(batch) for batch in sampler]


@pytest.mark.parametrize("batch_size, m", [(32, 4), (20, 2), (30, 10), (10, 1)])
def test_every_batch_has_m_per_class(batch_size, m):
    sampler = ClassBalancedSampler(LABELS, batch_size, m, seed=0)
    batches = epoch(sampler)
    assert len(batches) == len(sampler) == len(LABELS) // batch_size
    for batch in batches:
        assert batch.shape == (batch_size,) and batch.dtype == np.int64
        classes, counts = np.unique(LABELS[batch], return_counts=True)
        assert len(classes) == batch_size // m == sampler.classes_per_batch
        assert np.all(counts == m)
        # Samples of a class are distinct within a batch (classes >= m).
        assert len(np.unique(batch)) == batch_size


def test_deterministic_under_seed_and_epochs_differ():
    first = epoch(ClassBalancedSampler(LABELS, 32, 4, seed=7))
    again = ClassBalancedSampler(LABELS, 32, 4, seed=7)
    np.testing.assert_array_equal(np.stack(first), np.stack(epoch(again)))
    assert not np.array_equal(np.stack(first), np.stack(epoch(again)))
    other = epoch(ClassBalancedSampler(LABELS, 32, 4, seed=8))
    assert not np.array_equal(np.stack(first), np.stack(other))


def test_each_sample_about_once_per_epoch():
    sampler = ClassBalancedSampler(LABELS, 40, 4, seed=0)
    counts = np.bincount(np.concatenate(epoch(sampler)), minlength=len(LABELS))
    assert counts.sum() == len(LABELS)
    assert np.mean(counts == 1) > 0.9
    assert counts.max() <= 2


def test_imbalanced_classes_drawn_without_replacement():
    labels = np.concatenate([np.full(200, 5), np.full(60, 9), np.full(20, -1)])
    sampler = ClassBalancedSampler(labels, 8, 4, seed=1)
    np.testing.assert_array_equal(sampler.classes, [-1, 5, 9])
    seen = np.concatenate(epoch(sampler))
    for label in (-1, 5, 9):
        drawn = seen[labels[seen] == label]
        size = np.sum(labels == label)
        # No repeat of a class's sample before all of them were drawn.
        assert len(np.unique(drawn)) == min(len(drawn), size)
    # The small classes are covered; the large one is capped by balance.
    assert set(seen[labels[seen] != 5]) == set(np.flatnonzero(labels != 5))


def test_small_class_sampled_with_replacement():
    labels = np.array([0] * 20 + [1] * 2 + [2] * 20)
    sampler = ClassBalancedSampler(labels, 15, 5, seed=0)
    for batch in sampler:
        counts = np.bincount(labels[batch], minlength=3)
        np.testing.assert_array_equal(counts, [5, 5, 5])
        small = batch[labels[batch] == 1]
        assert set(small) == {20, 21}  # both members, then repeats


def test_fewer_samples_than_a_batch_gives_one_batch():
    sampler = ClassBalancedSampler([0, 0, 1, 1, 2], 4, 2, seed=0)
    assert len(epoch(sampler)) == len(sampler) == 1


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"batch_size": 30, "samples_per_class": 4}, "batch_size"),
        ({"batch_size": 0, "samples_per_class": 4}, "batch_size"),
        ({"batch_size": 32, "samples_per_class": 0}, "samples_per_class"),
        ({"batch_size": 32, "samples_per_class": 2.0}, "samples_per_class"),
        ({"batch_size": 44, "samples_per_class": 4}, "11 classes per batch"),
        ({"labels": np.zeros((4, 2), "int64")}, "labels"),
        ({"labels": np.linspace(0, 1, 8)}, "labels"),
        ({"labels": []}, "labels"),
    ],
)
def test_invalid_arguments(kwargs, match):
    arguments = {"labels": LABELS, "batch_size": 32, "samples_per_class": 4}
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=match):
        ClassBalancedSampler(**arguments)
