"""Quickstart: SINCERE on the handwritten digits that ship with scikit-learn.

Offline, a minute on a laptop CPU, any backend:

    KERAS_BACKEND=jax python examples/quickstart.py

Trains a small MLP whose two noisy views of each digit are pulled together
(and apart from other digits) by `SincereLoss`, then classifies held-out
digits by their nearest training neighbour in the embedding space.
"""

import argparse

import keras
import numpy as np

from keras_sincere.losses import SincereLoss


def load_digits_split(seed=0):
    """The 1,797 8x8 digits of scikit-learn, scaled to [0, 1], 80/20 split."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = (digits.data / 16.0).astype("float32")
    y = digits.target.astype("int64")
    order = np.random.default_rng(seed).permutation(len(x))
    cut = int(0.8 * len(x))
    return x[order[:cut]], y[order[:cut]], x[order[cut:]], y[order[cut:]]


def two_views(x, rng, noise=0.15, drop=0.2):
    """Two augmented views per image: Gaussian noise and dropped pixels."""
    views = np.repeat(x[:, None, :], 2, axis=1)
    views = views + noise * rng.normal(size=views.shape)
    views = views * (rng.random(size=views.shape) > drop)
    return views.astype("float32")


def build_model(input_dim=64, embedding_dim=32):
    """An MLP applied to every view: (B, V, 64) -> (B, V, embedding_dim)."""
    inputs = keras.Input((None, input_dim))
    hidden = keras.layers.Dense(256, activation="relu")(inputs)
    hidden = keras.layers.Dense(256, activation="relu")(hidden)
    return keras.Model(inputs, keras.layers.Dense(embedding_dim)(hidden))


def nearest_neighbour_accuracy(train_emb, train_y, test_emb, test_y):
    """1-NN accuracy with cosine similarity."""
    train_emb = train_emb / np.linalg.norm(train_emb, axis=1, keepdims=True)
    test_emb = test_emb / np.linalg.norm(test_emb, axis=1, keepdims=True)
    nearest = np.argmax(test_emb @ train_emb.T, axis=1)
    return float(np.mean(train_y[nearest] == test_y))


def main(epochs=30, temperature=0.1, seed=0, verbose=2):
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    x_train, y_train, x_test, y_test = load_digits_split(seed)

    model = build_model()
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=SincereLoss(temperature))
    for _ in range(epochs):  # fresh augmentations every epoch
        model.fit(two_views(x_train, rng), y_train, batch_size=256, verbose=0)
    history_loss = float(model.evaluate(two_views(x_train, rng), y_train, verbose=0))

    def embed(x):
        return model.predict(x[:, None, :], verbose=0)[:, 0, :]

    accuracy = nearest_neighbour_accuracy(
        embed(x_train), y_train, embed(x_test), y_test
    )
    pixels = nearest_neighbour_accuracy(x_train, y_train, x_test, y_test)
    if verbose:
        print(f"backend: {keras.backend.backend()}")
        print(f"final SINCERE loss: {history_loss:.4f}")
        print(f"1-NN accuracy, raw pixels:        {pixels:.3f}")
        print(f"1-NN accuracy, SINCERE embedding: {accuracy:.3f}")
    return {"loss": history_loss, "knn1": accuracy, "knn1_pixels": pixels}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--temperature", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    main(args.epochs, args.temperature, args.seed)
