"""Learning-rate schedules: the paper's linear warm-up then cosine decay."""

import math

import keras
from keras import ops

from keras_sincere._validation import check_integer
from keras_sincere._validation import check_positive
from keras_sincere._validation import check_probability


@keras.saving.register_keras_serializable(package="keras_sincere")
class WarmupCosineDecay(keras.optimizers.schedules.CosineDecay):
    """Keras's `CosineDecay` with warm-up, in the terms of the paper's recipe.

    The schedule of the paper's appendix J: "10 epochs warming up from 0.1%
    to 100% then cosine anneals back to 0.1% at the last epoch". Steps count
    from 0, as `optimizer.iterations` does, so a run of `total_steps` updates
    uses steps `0 ... total_steps - 1`. With peak learning rate `p`,
    `w = warmup_steps`, `T = total_steps`, `a = initial_fraction` and
    `b = final_fraction`:

    ```
    lr(s) = p * (a + (1 - a) * s / w)                        for s < w
    lr(s) = p * (b + (1 - b) * (1 + cos(pi * t)) / 2)        for s >= w
            with t = min((s - w) / (T - 1 - w), 1)
    ```

    So `lr(0) = a * p`, `lr(w) = p`, and the last update (`s = T - 1`) uses
    `b * p`; after `total_steps` the learning rate stays at `b * p`.

    This is `keras.optimizers.schedules.CosineDecay(initial_learning_rate=a
    * p, decay_steps=T - 1 - w, alpha=b, warmup_target=p, warmup_steps=w)`,
    and the object carries those attributes, with three differences:

    - `decay_steps = 0` is allowed (Keras refuses it): a plan that is all
      warm-up (`w = T - 1`) or a single step (`T = 1`) uses `b * p` from
      step `w` on;
    - `step` may be a vector of steps (the phases are chosen with
      `ops.where`, not `ops.cond`);
    - the float32 arithmetic is the formula above, term for term. Keras's
      warm-up computes `(p - a * p) * s / w + a * p`, and under `jit` its
      cosine phase rounds differently too: the values agree to float32
      rounding (tested), but one unit in the last place of the learning
      rate changes a training run after a few epochs as much as a new seed
      does, and the published figures were trained with this order.

    `__call__` uses `keras.ops` only, so the schedule works with a traced
    step inside a jitted `fit` on every backend.

    Args:
        peak_learning_rate: the learning rate at the end of the warm-up,
            `> 0`.
        total_steps: number of optimizer updates of the whole run, `>= 1`.
        warmup_steps: number of warm-up steps, `0 <= warmup_steps <
            total_steps`.
        initial_fraction: learning rate at step 0 as a fraction of the
            peak, in `[0, 1]`. Defaults to 0.001 (0.1%).
        final_fraction: learning rate at the last step as a fraction of the
            peak, in `[0, 1]`. Defaults to 0.001 (0.1%).

    Example:

    >>> schedule = WarmupCosineDecay(
    ...     peak_learning_rate=0.5, total_steps=1000, warmup_steps=100
    ... )
    >>> optimizer = keras.optimizers.SGD(learning_rate=schedule, momentum=0.9)
    >>> round(float(schedule(100)), 6)
    0.5
    >>> round(float(schedule(999)), 6)
    0.0005

    `WarmupCosineDecay.from_epochs(0.5, epochs=800, steps_per_epoch=97)`
    builds the paper's schedule from epoch counts.
    """

    def __init__(
        self,
        peak_learning_rate: float,
        total_steps: int,
        warmup_steps: int,
        initial_fraction: float = 0.001,
        final_fraction: float = 0.001,
    ):
        peak = check_positive(peak_learning_rate, "peak_learning_rate")
        total_steps = check_integer(total_steps, "total_steps")
        warmup_steps = check_integer(
            warmup_steps, "warmup_steps", minimum=0, maximum=total_steps - 1
        )
        self.peak_learning_rate = peak
        self.total_steps = total_steps
        self.initial_fraction = check_probability(initial_fraction, "initial_fraction")
        self.final_fraction = check_probability(final_fraction, "final_fraction")
        decay_steps = total_steps - 1 - warmup_steps
        super().__init__(
            initial_learning_rate=self.initial_fraction * peak,
            # Keras refuses 0; the true value is set below and `__call__`
            # handles it.
            decay_steps=max(1, decay_steps),
            alpha=self.final_fraction,
            name="WarmupCosineDecay",
            warmup_target=peak,
            warmup_steps=warmup_steps,
        )
        self.decay_steps = decay_steps

    @classmethod
    def from_epochs(
        cls,
        peak_learning_rate: float,
        epochs: int,
        steps_per_epoch: int,
        warmup_epochs: int = 10,
        **fractions,
    ) -> "WarmupCosineDecay":
        """The schedule for `epochs` epochs of `steps_per_epoch` updates.

        Args:
            peak_learning_rate: the learning rate after the warm-up.
            epochs: number of training epochs, `> warmup_epochs`.
            steps_per_epoch: optimizer updates per epoch, `>= 1`.
            warmup_epochs: epochs of linear warm-up. Defaults to 10 (the
                paper's value).
            **fractions: `initial_fraction` and `final_fraction`, as for
                the class.

        Returns:
            A `WarmupCosineDecay` with `total_steps = epochs *
            steps_per_epoch` and `warmup_steps = warmup_epochs *
            steps_per_epoch`.

        Example:

        >>> schedule = WarmupCosineDecay.from_epochs(0.5, 800, 97)
        >>> schedule.total_steps, schedule.warmup_steps
        (77600, 970)
        """
        epochs = check_integer(epochs, "epochs")
        steps_per_epoch = check_integer(steps_per_epoch, "steps_per_epoch")
        warmup_epochs = check_integer(
            warmup_epochs, "warmup_epochs", minimum=0, maximum=epochs - 1
        )
        return cls(
            peak_learning_rate=peak_learning_rate,
            total_steps=epochs * steps_per_epoch,
            warmup_steps=warmup_epochs * steps_per_epoch,
            **fractions,
        )

    def __call__(self, step):
        step = ops.cast(step, "float32")
        peak = self.peak_learning_rate
        warmup = float(self.warmup_steps)

        # Warm-up branch; with warmup_steps = 0 it is never selected.
        ramp = step / max(warmup, 1.0)
        warm = peak * (self.initial_fraction + (1.0 - self.initial_fraction) * ramp)

        if self.decay_steps > 0:
            progress = ops.clip((step - warmup) / float(self.decay_steps), 0.0, 1.0)
        else:
            progress = ops.ones_like(step)
        cosine = 0.5 * (1.0 + ops.cos(math.pi * progress))
        decayed = peak * (self.final_fraction + (1.0 - self.final_fraction) * cosine)
        return ops.where(step < warmup, warm, decayed)

    def get_config(self):
        # The arguments of this class, not Keras's: optimizers saved with
        # this schedule in `.keras` files load with this config.
        return {
            "peak_learning_rate": self.peak_learning_rate,
            "total_steps": self.total_steps,
            "warmup_steps": self.warmup_steps,
            "initial_fraction": self.initial_fraction,
            "final_fraction": self.final_fraction,
        }
