"""Learning-rate schedules: the paper's linear warm-up then cosine decay."""

import math

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_sincere")
class WarmupCosineDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up, then cosine decay to a final fraction of the peak.

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
    `b * p`. After `total_steps` (a run that continues past the schedule)
    the learning rate stays at the final value `b * p`. With
    `warmup_steps = 0` there is no warm-up; with
    `warmup_steps = total_steps - 1` there is no decay phase and the last
    step uses the final value.

    `__call__` uses `keras.ops` only and computes in float32, so the
    schedule works with a traced step inside a jitted `fit` on every
    backend.

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
        if not peak_learning_rate > 0:
            raise ValueError(
                "`peak_learning_rate` must be > 0. "
                f"Received: peak_learning_rate={peak_learning_rate}"
            )
        if int(total_steps) != total_steps or total_steps < 1:
            raise ValueError(
                f"`total_steps` must be an integer >= 1. Received: "
                f"total_steps={total_steps}"
            )
        if int(warmup_steps) != warmup_steps or not 0 <= warmup_steps < total_steps:
            raise ValueError(
                "`warmup_steps` must be an integer with 0 <= warmup_steps < "
                f"total_steps. Received: warmup_steps={warmup_steps}, "
                f"total_steps={total_steps}"
            )
        for name, value in (
            ("initial_fraction", initial_fraction),
            ("final_fraction", final_fraction),
        ):
            if not 0 <= value <= 1:
                raise ValueError(
                    f"`{name}` must be in [0, 1]. Received: {name}={value}"
                )
        self.peak_learning_rate = float(peak_learning_rate)
        self.total_steps = int(total_steps)
        self.warmup_steps = int(warmup_steps)
        self.initial_fraction = float(initial_fraction)
        self.final_fraction = float(final_fraction)

    @classmethod
    def from_epochs(
        cls,
        peak_learning_rate: float,
        epochs: int,
        steps_per_epoch: int,
        warmup_epochs: int = 10,
        initial_fraction: float = 0.001,
        final_fraction: float = 0.001,
    ) -> "WarmupCosineDecay":
        """The schedule for `epochs` epochs of `steps_per_epoch` updates.

        Args:
            peak_learning_rate: the learning rate after the warm-up.
            epochs: number of training epochs, `> warmup_epochs`.
            steps_per_epoch: optimizer updates per epoch, `>= 1`.
            warmup_epochs: epochs of linear warm-up. Defaults to 10 (the
                paper's value).
            initial_fraction: see the class.
            final_fraction: see the class.

        Returns:
            A `WarmupCosineDecay` with `total_steps = epochs *
            steps_per_epoch` and `warmup_steps = warmup_epochs *
            steps_per_epoch`.
        """
        for name, value in (("epochs", epochs), ("steps_per_epoch", steps_per_epoch)):
            if int(value) != value or value < 1:
                raise ValueError(
                    f"`{name}` must be an integer >= 1. Received: {name}={value}"
                )
        if int(warmup_epochs) != warmup_epochs or not 0 <= warmup_epochs < epochs:
            raise ValueError(
                "`warmup_epochs` must be an integer with 0 <= warmup_epochs < "
                f"epochs. Received: warmup_epochs={warmup_epochs}, epochs={epochs}"
            )
        return cls(
            peak_learning_rate=peak_learning_rate,
            total_steps=int(epochs) * int(steps_per_epoch),
            warmup_steps=int(warmup_epochs) * int(steps_per_epoch),
            initial_fraction=initial_fraction,
            final_fraction=final_fraction,
        )

    def __call__(self, step):
        step = ops.cast(step, "float32")
        peak = self.peak_learning_rate
        warmup = float(self.warmup_steps)
        decay_steps = self.total_steps - 1 - self.warmup_steps

        # Warm-up branch; with warmup_steps = 0 it is never selected.
        ramp = step / max(warmup, 1.0)
        warm = peak * (self.initial_fraction + (1.0 - self.initial_fraction) * ramp)

        if decay_steps > 0:
            progress = ops.clip((step - warmup) / float(decay_steps), 0.0, 1.0)
        else:
            progress = ops.ones_like(step)
        cosine = 0.5 * (1.0 + ops.cos(math.pi * progress))
        decayed = peak * (self.final_fraction + (1.0 - self.final_fraction) * cosine)
        return ops.where(step < warmup, warm, decayed)

    def get_config(self):
        return {
            "peak_learning_rate": self.peak_learning_rate,
            "total_steps": self.total_steps,
            "warmup_steps": self.warmup_steps,
            "initial_fraction": self.initial_fraction,
            "final_fraction": self.final_fraction,
        }
