"""load_dataset: digits, CIFAR (offline errors, faked downloads) and .npz files."""

import sys
import urllib.error

import keras
import numpy as np
import pytest

from keras_sincere.data import DatasetDownloadError
from keras_sincere.data import load_dataset
from keras_sincere.data import resize_images

# What keras.utils.get_file raises offline: a bare Exception with this text.
OFFLINE_ERROR = (
    "URL fetch failure on https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz: "
    "None -- [Errno -3] Temporary failure in name resolution"
)


def check_images(x, y, size):
    assert x.dtype == np.float32 and y.dtype == np.int64
    assert x.shape == (len(y), size, size, 3)
    assert 0.0 <= x.min() and x.max() <= 1.0


# ---------------------------------------------------------------- digits


def test_digits():
    sklearn_datasets = pytest.importorskip("sklearn.datasets")
    (x_train, y_train), (x_test, y_test) = load_dataset("digits")
    check_images(x_train, y_train, 32)
    check_images(x_test, y_test, 32)
    assert (len(x_train), len(x_test)) == (1438, 359)
    # Stratified 80/20: every class keeps its share, and nothing is lost.
    all_counts = np.bincount(sklearn_datasets.load_digits().target)
    test_counts = np.bincount(y_test, minlength=10)
    np.testing.assert_array_equal(np.bincount(y_train) + test_counts, all_counts)
    np.testing.assert_allclose(test_counts / all_counts, 0.2, atol=0.01)
    # Grey images repeated to RGB.
    np.testing.assert_array_equal(x_train[..., 0], x_train[..., 2])


def test_digits_is_deterministic_and_native_size():
    pytest.importorskip("sklearn")
    (x_a, y_a), (t_a, _) = load_dataset("digits", image_size=None)
    (x_b, y_b), (t_b, _) = load_dataset("digits", image_size=None)
    check_images(x_a, y_a, 8)
    np.testing.assert_array_equal(x_a, x_b)
    np.testing.assert_array_equal(y_a, y_b)
    np.testing.assert_array_equal(t_a, t_b)
    # Pixel values 0-16 scaled by 1/16 exactly at the native size.
    assert set(np.unique(x_a * 16)) <= set(range(17))


def test_digits_without_sklearn(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(ImportError, match="pip install scikit-learn"):
        load_dataset("digits")


def test_unknown_name_lists_the_valid_ones():
    with pytest.raises(ValueError, match="digits.*cifar10.*cifar100.*cifar2"):
        load_dataset("mnist")


def test_bad_image_size():
    with pytest.raises(ValueError, match="image_size"):
        load_dataset("digits", image_size=0)


# ------------------------------------------------------------------ CIFAR


def fake_cifar(num_classes):
    rng = np.random.default_rng(0)

    def load_data(**kwargs):
        def split(n):
            x = rng.integers(0, 256, size=(n, 32, 32, 3), dtype=np.uint8)
            y = (np.arange(n) % num_classes).astype(np.uint8)[:, None]
            return x, y

        return split(40), split(20)

    return load_data


def test_cifar10_scaled_and_flattened(monkeypatch):
    monkeypatch.setattr(keras.datasets.cifar10, "load_data", fake_cifar(10))
    (x_train, y_train), (x_test, y_test) = load_dataset("cifar10")
    check_images(x_train, y_train, 32)
    check_images(x_test, y_test, 32)
    assert x_train.max() > 0.9 and np.all(np.mod(x_train * 255, 1) < 1e-3)
    np.testing.assert_array_equal(y_train, np.arange(40) % 10)


def test_cifar100_uses_fine_labels(monkeypatch):
    calls = []

    def load_data(**kwargs):
        calls.append(kwargs)
        return fake_cifar(100)()

    monkeypatch.setattr(keras.datasets.cifar100, "load_data", load_data)
    (x_train, _), _ = load_dataset("cifar100", image_size=16)
    assert calls == [{"label_mode": "fine"}]
    assert x_train.shape == (40, 16, 16, 3)


def test_cifar2_is_cat_versus_dog(monkeypatch):
    monkeypatch.setattr(keras.datasets.cifar10, "load_data", fake_cifar(10))
    (x_train, y_train), (x_test, y_test) = load_dataset("cifar2")
    # Labels 3 (cat) and 5 (dog) of 40 and 20 round-robin labels.
    assert (len(y_train), len(y_test)) == (8, 4)
    np.testing.assert_array_equal(y_train, [0, 1] * 4)
    check_images(x_train, y_train, 32)


@pytest.mark.parametrize("name", ["cifar10", "cifar100", "cifar2"])
def test_offline_download_error(monkeypatch, name):
    module = "cifar100" if name == "cifar100" else "cifar10"

    def offline(**kwargs):
        raise Exception(OFFLINE_ERROR)

    monkeypatch.setattr(getattr(keras.datasets, module), "load_data", offline)
    with pytest.raises(DatasetDownloadError) as info:
        load_dataset(name)
    message = str(info.value)
    assert isinstance(info.value, OSError)
    assert f"Could not download {module.upper()}" in message
    assert "https://www.cs.toronto.edu/~kriz/" in message
    assert ".keras" in message and "datasets" in message
    assert "digits" in message and ".npz" in message
    assert "Temporary failure in name resolution" in message


def test_offline_through_keras_get_file(monkeypatch, tmp_path):
    """The real keras.datasets path, with the download itself failing."""
    from keras.src.backend import config
    from keras.src.utils import file_utils

    def no_network(*args, **kwargs):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(file_utils, "urlretrieve", no_network)
    monkeypatch.setattr(config, "_KERAS_DIR", str(tmp_path))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    with pytest.raises(DatasetDownloadError, match="URL fetch failure") as info:
        load_dataset("cifar10")
    assert str(tmp_path / "datasets") in str(info.value)
    assert "cifar-10-python.tar.gz" in str(info.value)


# -------------------------------------------------------------------- npz


def save_npz(path, **arrays):
    np.savez(path, **arrays)
    return str(path)


def test_npz_uint8_grey_resized(tmp_path, rng):
    x_train = rng.integers(0, 256, size=(6, 10, 12), dtype=np.uint8)
    x_test = rng.integers(0, 256, size=(3, 10, 12, 1), dtype=np.uint8)
    path = save_npz(
        tmp_path / "grey.npz",
        x_train=x_train,
        y_train=np.arange(6)[:, None],
        x_test=x_test,
        y_test=np.arange(3),
    )
    (xa, ya), (xb, yb) = load_dataset(path, image_size=16)
    check_images(xa, ya, 16)
    check_images(xb, yb, 16)
    np.testing.assert_array_equal(xa[..., 0], xa[..., 1])
    np.testing.assert_array_equal(ya, np.arange(6))


def test_npz_float_native_size(tmp_path, rng):
    x = rng.uniform(size=(4, 5, 5, 3)).astype("float32")
    path = save_npz(
        tmp_path / "rgb.npz", x_train=x, y_train=[0, 1, 0, 1], x_test=x, y_test=[1] * 4
    )
    (x_train, y_train), _ = load_dataset(path, image_size=None)
    np.testing.assert_array_equal(x_train, x)
    # Same size requested: no resampling either.
    (same, _), _ = load_dataset(path, image_size=5)
    np.testing.assert_array_equal(same, x)


def test_npz_multi_hot_label_sets(tmp_path):
    x = np.zeros((4, 5, 5, 3), "uint8")
    sets = np.array([[1, 0, 1], [0, 1, 0], [0, 0, 0], [1, 1, 0]], "uint8")
    path = save_npz(
        tmp_path / "sets.npz", x_train=x, y_train=sets, x_test=x, y_test=sets
    )
    (_, y_train), (_, y_test) = load_dataset(path, image_size=None)
    assert y_train.dtype == np.int64
    np.testing.assert_array_equal(y_train, sets)
    np.testing.assert_array_equal(y_test, sets)


def test_resize_values(tmp_path):
    constant = np.full((2, 8, 8, 3), 0.25, dtype="float32")
    checker = (np.indices((8, 8)).sum(axis=0) % 2).astype("float32")
    checker = np.repeat(checker[None, ..., None], 3, axis=-1)
    images = np.concatenate([constant[:1], checker])
    path = save_npz(
        tmp_path / "r.npz", x_train=images, y_train=[0, 1], x_test=images, y_test=[0, 1]
    )
    (up, _), _ = load_dataset(path, image_size=32)
    (down, _), _ = load_dataset(path, image_size=4)
    np.testing.assert_allclose(up[0], 0.25, atol=1e-6)
    np.testing.assert_allclose(down[0], 0.25, atol=1e-6)
    # Shrinking a checkerboard averages it (anti-aliased), not aliases it.
    np.testing.assert_allclose(down[1], 0.5, atol=0.1)


@pytest.mark.parametrize(
    "change, match",
    [
        ({"x_train": np.zeros((4, 5, 5, 2), "uint8")}, r"x_train.*\(N, H, W, 3\)"),
        ({"x_train": np.zeros((4, 5), "uint8")}, "x_train"),
        ({"y_train": np.zeros(3, "int64")}, "same length"),
        ({"y_test": np.zeros((4, 2), "int64")}, r"y_test.shape=\(4, 2\)"),
        ({"y_test": np.full((4, 2), 3, "int64")}, r"y_test.*only 0 and 1"),
        ({"x_test": np.full((4, 5, 5, 3), 2.0, "float32")}, r"\[0, 1\]"),
        ({"x_test": np.full((4, 5, 5, 3), 300, "int32")}, "0-255"),
        ({"y_train": np.full(4, 0.5)}, "integer"),
    ],
)
def test_npz_bad_arrays(tmp_path, change, match):
    arrays = {
        "x_train": np.zeros((4, 5, 5, 3), "uint8"),
        "y_train": np.zeros(4, "int64"),
        "x_test": np.zeros((4, 5, 5, 3), "uint8"),
        "y_test": np.zeros(4, "int64"),
    }
    arrays.update(change)
    path = save_npz(tmp_path / "bad.npz", **arrays)
    with pytest.raises(ValueError, match=match):
        load_dataset(path)


def test_npz_missing_arrays(tmp_path):
    path = save_npz(tmp_path / "m.npz", x_train=np.zeros((2, 4, 4)), y_train=[0, 1])
    with pytest.raises(ValueError, match=r"\['x_test', 'y_test'\]"):
        load_dataset(path)


def test_npz_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_dataset(str(tmp_path / "absent.npz"))


def test_resize_images_matches_load_dataset():
    (native, _), _ = load_dataset("digits", image_size=None)
    (resized, _), _ = load_dataset("digits", image_size=16)
    np.testing.assert_allclose(resize_images(native, 16), resized, atol=1e-6)
    grey = np.zeros((2, 8, 8, 1), "float32")
    assert resize_images(grey, 4).shape == (2, 4, 4, 3)
    with pytest.raises(ValueError, match="`size` must be an integer >= 1"):
        resize_images(native, 0)
    with pytest.raises(ValueError, match="images.shape=\\(8, 8\\)"):
        resize_images(np.zeros((8, 8)), 4)


@pytest.mark.parametrize("content", [b"x_train,y_train\n1,2\n", b"", b"\x93NUMPY"])
def test_a_file_that_is_not_an_npz_archive_is_named_so(tmp_path, content):
    path = tmp_path / "data.npz"
    path.write_bytes(content)
    with pytest.raises(ValueError, match="is not an .npz archive"):
        load_dataset(path)
