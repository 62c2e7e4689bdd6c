"""Batches of m samples from each of k classes: every anchor has positives."""

import numpy as np

from keras_sincere._validation import check_integer
from keras_sincere._validation import class_labels


class ClassBalancedSampler:
    """Index batches of `samples_per_class` samples from each of k classes.

    Each batch holds `m = samples_per_class` indices of each of
    `k = batch_size // m` distinct classes (grouped by class), so every
    sample of the batch has `m - 1` other samples of its class besides its
    own views: a supervised contrastive loss gets positives for every anchor
    even with many classes and one view. This is the "m per class" sampling
    of metric learning, here with epoch semantics:

    - one iteration (`for batch in sampler`) is one epoch of
      `len(sampler) = max(1, N // batch_size)` batches, so about `N` indices;
    - within an epoch, each class's samples are drawn without replacement
      in a fresh random order; a class is chosen for a batch with
      probability proportional to how many of its samples this epoch has not
      drawn yet, so each sample is seen about once per epoch;
    - a class that has drawn all of its samples starts a new random order
      (its remaining chunk avoids the samples already in it);
    - a class with fewer than `m` samples contributes all of them plus draws
      with replacement up to `m`, so its samples repeat within the batch;
    - with imbalanced classes, balanced batches over-sample the small
      classes and leave part of the large ones unseen in an epoch (a class
      fills at most `m` slots of a batch).

    The random order comes from `numpy.random.default_rng(seed)`: the same
    seed gives the same sequence of epochs, and successive epochs differ.

    Args:
        labels: integer class labels `(N,)` or `(N, 1)` (any integer
            values; floats holding whole numbers are accepted).
        batch_size: indices per batch, a multiple of `samples_per_class`.
        samples_per_class: `m >= 1` samples of each class in a batch. At
            least 2 gives positives without relying on multiple views.
        seed: seed of the numpy `Generator`; `None` for a random one.

    Example:

    >>> labels = np.repeat(np.arange(10), 50)
    >>> sampler = ClassBalancedSampler(labels, batch_size=32, samples_per_class=4)
    >>> len(sampler), sampler.classes_per_batch
    (15, 8)
    >>> batch = next(iter(sampler))
    >>> np.unique(labels[batch], return_counts=True)[1].tolist()
    [4, 4, 4, 4, 4, 4, 4, 4]
    """

    def __init__(
        self,
        labels,
        batch_size: int,
        samples_per_class: int,
        seed: int | None = None,
    ):
        labels = class_labels(labels, "labels")
        if len(labels) == 0:
            raise ValueError("`labels` must not be empty. Received: labels.shape=(0,)")
        samples_per_class = check_integer(samples_per_class, "samples_per_class")
        batch_size = check_integer(batch_size, "batch_size")
        if batch_size % samples_per_class:
            raise ValueError(
                "`batch_size` must be a positive multiple of `samples_per_class`. "
                f"Received: batch_size={batch_size}, "
                f"samples_per_class={samples_per_class}"
            )
        classes, inverse = np.unique(labels, return_inverse=True)
        classes_per_batch = batch_size // samples_per_class
        if classes_per_batch > len(classes):
            raise ValueError(
                f"`batch_size // samples_per_class` = {classes_per_batch} classes "
                f"per batch, but `labels` has only {len(classes)} classes. Use a "
                "smaller `batch_size` or a larger `samples_per_class`. Received: "
                f"batch_size={batch_size}, samples_per_class={samples_per_class}"
            )
        self.batch_size = batch_size
        self.samples_per_class = samples_per_class
        self.classes_per_batch = classes_per_batch
        self.num_samples = len(labels)
        self.classes = classes
        self._members = [np.flatnonzero(inverse == c) for c in range(len(classes))]
        self._rng = np.random.default_rng(seed)

    def __len__(self):
        return max(1, self.num_samples // self.batch_size)

    def __iter__(self):
        rng = self._rng
        m = self.samples_per_class
        queues = [rng.permutation(members) for members in self._members]
        unseen = np.array([len(members) for members in self._members], dtype=float)
        for _ in range(len(self)):
            chosen = self._choose_classes(unseen)
            batch = []
            for c in chosen:
                chunk, queues[c] = self._take(c, queues[c])
                batch.append(chunk)
                unseen[c] = max(unseen[c] - m, 0.0)
            yield np.concatenate(batch).astype("int64")

    def _choose_classes(self, unseen):
        """k distinct classes, weighted by samples not drawn yet this epoch."""
        k = self.classes_per_batch
        fresh = np.flatnonzero(unseen > 0)
        if len(fresh) >= k:
            weights = unseen[fresh] / unseen[fresh].sum()
            return self._rng.choice(fresh, size=k, replace=False, p=weights)
        # Fewer classes with unseen samples than needed: fill uniformly.
        rest = np.flatnonzero(unseen <= 0)
        extra = self._rng.choice(rest, size=k - len(fresh), replace=False)
        return np.concatenate([fresh, extra])

    def _take(self, c, queue):
        """The next m indices of class c and the rest of its queue."""
        m = self.samples_per_class
        members = self._members[c]
        if len(members) < m:
            extra = self._rng.choice(members, size=m - len(members), replace=True)
            return self._rng.permutation(np.concatenate([members, extra])), queue
        if len(queue) < m:
            # New random order; the leftovers' own indices go last so the
            # chunk holds m distinct samples.
            order = self._rng.permutation(members)
            repeated = np.isin(order, queue)
            queue = np.concatenate([queue, order[~repeated], order[repeated]])
        return queue[:m], queue[m:]
