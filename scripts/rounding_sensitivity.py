"""How far rounding alone moves a training run: the loss is exact, the run is not.

Two checks, on the backend of `KERAS_BACKEND`:

1. SINCERE's value and gradient on one batch of embeddings, computed three
   ways in float32 (the dense path, the chunked path, the dense path on the
   batch in another order) against a float64 computation written from the
   formula. All agree to float32 rounding (about 1e-7 relative).
2. Three epochs of the digits plan, trained with the dense and with the
   chunked loss (the same function, rounded differently), from the same seed.
   The epoch losses part after the first epoch, by as much as seeds do.

    KERAS_BACKEND=tensorflow python scripts/rounding_sensitivity.py
"""

import pathlib
import sys

import numpy as np

# The tests' per-backend gradient helper; run from anywhere.
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))


def _reference(labels, embeddings, temperature):
    """Mean SINCERE loss and its gradient in float64, from eq. 12 directly."""
    z = embeddings.reshape(-1, embeddings.shape[-1]).astype(np.float64)
    views = embeddings.shape[1]
    anchor_labels = np.repeat(labels, views)
    norms = np.linalg.norm(z, axis=1, keepdims=True)
    unit = z / norms
    logits = unit @ unit.T / temperature
    same = anchor_labels[:, None] == anchor_labels[None, :]
    positive = same & ~np.eye(len(z), dtype=bool)
    negative = ~same
    count = len(labels)
    # d loss / d logits, then back through the normalisation.
    grad_logits = np.zeros_like(logits)
    total = 0.0
    for i in range(len(z)):
        noise = logits[i][negative[i]]
        peak = noise.max()
        noise_sum = np.exp(noise - peak).sum()
        positives = np.flatnonzero(positive[i])
        weight = 1.0 / (len(positives) * views * count)
        for p in positives:
            top = max(peak, logits[i, p])
            denominator = np.exp(logits[i, p] - top) + noise_sum * np.exp(peak - top)
            total += weight * (top + np.log(denominator) - logits[i, p])
            share_p = np.exp(logits[i, p] - top) / denominator
            grad_logits[i, p] += weight * (share_p - 1.0)
            noise_share = np.exp(logits[i] - top) / denominator
            grad_logits[i, negative[i]] += weight * noise_share[negative[i]]
    grad_unit = (grad_logits + grad_logits.T) @ unit / temperature
    radial = np.sum(grad_unit * unit, axis=1, keepdims=True)
    grad = (grad_unit - radial * unit) / norms
    return total, grad.reshape(embeddings.shape)


def _value_and_gradient(loss, labels, embeddings):
    from tests.backend_utils import value_and_gradient

    return value_and_gradient(lambda z: loss(labels, z), embeddings)


def gradient_agreement(seed=0):
    from keras_sincere import losses

    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, 128)
    centres = rng.normal(size=(10, 128))
    embeddings = (centres[labels][:, None] + rng.normal(size=(128, 2, 128))).astype(
        "float32"
    )
    value, gradient = _reference(labels, embeddings, 0.1)
    scale = np.abs(gradient).max()
    order = rng.permutation(128)
    ways = {
        "dense": (losses.SincereLoss(0.1), labels, embeddings, None),
        "chunked (64 rows)": (
            losses.SincereLoss(0.1, chunk_size=64),
            labels,
            embeddings,
            None,
        ),
        "dense, batch reordered": (
            losses.SincereLoss(0.1),
            labels[order],
            embeddings[order],
            order,
        ),
    }
    print(f"float64 loss {value:.7f}")
    for name, (loss, y, z, permutation) in ways.items():
        ours, grad = _value_and_gradient(loss, y, z)
        if permutation is not None:
            grad = grad[np.argsort(permutation)]
        error = np.abs(grad - gradient).max() / scale
        print(
            f"  {name:24s} value error {abs(float(ours) - value):.1e}, "
            f"gradient error {error:.1e} of its largest entry"
        )


def trajectories(epochs=3):
    from keras_sincere import experiments

    native = experiments.load_data("digits")
    (x_train, _), _ = native
    plan = experiments.plan_training(
        "digits", "sincere", len(x_train), x_train.shape[1], epochs=epochs
    )
    for chunk_size in (None, 64):
        loss = plan.recipe.build_loss(chunk_size=chunk_size)
        _, history = experiments.train(plan, native, verbose=0, loss=loss)
        label = "dense" if chunk_size is None else f"chunked ({chunk_size} rows)"
        epoch_losses = ", ".join(f"{x:.4f}" for x in history["loss"])
        print(f"  {label:20s} epoch losses {epoch_losses}")


def main():
    import keras

    print(f"backend {keras.backend.backend()}")
    print("1. one batch (B=128, 2 views, D=128, T=0.1, 10 classes):")
    gradient_agreement()
    print("2. the digits plan for 3 epochs, seed 0, same initial weights and data:")
    trajectories()


if __name__ == "__main__":
    main()
