"""Image datasets as float32 NHWC arrays in [0, 1] with int64 labels."""

import os

import keras
import numpy as np

from keras_sincere._validation import check_integer
from keras_sincere._validation import check_same_label_kind
from keras_sincere._validation import class_labels
from keras_sincere._validation import is_label_set_array
from keras_sincere._validation import label_sets

_CIFAR_URLS = {
    "cifar10": "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
    "cifar100": "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
}
# CIFAR-2 of the paper: the cat (3) and dog (5) images of CIFAR-10.
_CIFAR2_CLASSES = (3, 5)
_DIGITS_TEST_FRACTION = 0.2
_DIGITS_SEED = 0
_RESIZE_CHUNK = 4096

DATASETS = ("digits", "cifar10", "cifar100", "cifar2")
_NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")


class DatasetDownloadError(OSError):
    """A dataset could not be downloaded (usually: no network)."""


def load_dataset(name: str | os.PathLike, image_size: int | None = 32):
    """Loads a dataset as `((x_train, y_train), (x_test, y_test))`.

    Images are float32 `(N, S, S, 3)` in `[0, 1]` (NHWC), labels int64
    `(N,)`. Datasets:

    - `"digits"`: the 1797 8x8 grey images of 10 digits that ship with
      scikit-learn (`sklearn.datasets.load_digits`), so it works offline.
      Pixel values 0-16 are scaled to `[0, 1]`, the grey channel is repeated
      to RGB, and the split is stratified: 20% of each class, chosen with a
      fixed seed, is the test set (1438 train / 359 test images, the same on
      every machine and backend).
    - `"cifar10"`, `"cifar100"` (fine labels): through `keras.datasets`,
      downloaded once into `~/.keras/datasets/` (`$KERAS_HOME/datasets/`
      when `KERAS_HOME` is set). Offline this raises `DatasetDownloadError`.
    - `"cifar2"`: the paper's binary task, the cat (3) and dog (5) images
      of CIFAR-10 relabelled 0 (cat) and 1 (dog): 10000 train, 2000 test.
    - a path to an `.npz` file holding `x_train, y_train, x_test, y_test`:
      images `(N, H, W)`, `(N, H, W, 1)` or `(N, H, W, 3)`, uint8 in 0-255
      or float in `[0, 1]`; labels `(N,)` or `(N, 1)` integers, or multi-hot
      label sets `(N, C)` of 0/1 (the losses' multi-label supervision). Grey
      images get 3 channels.

    Resizing is bilinear (with a triangle filter widened by the scale factor
    when shrinking, i.e. anti-aliased), done in numpy so every backend gets
    the same pixels.

    Args:
        name: one of `"digits"`, `"cifar10"`, `"cifar100"`, `"cifar2"`, or
            the path of an `.npz` file.
        image_size: side `S` of the returned square images; `None` keeps the
            native size (8 for digits, 32 for CIFAR). Defaults to 32, the
            paper's size.

    Returns:
        `((x_train, y_train), (x_test, y_test))` numpy arrays.

    Raises:
        ValueError: unknown name, bad `image_size`, or an `.npz` file with
            missing arrays or bad shapes or values.
        ImportError: `"digits"` without scikit-learn installed.
        DatasetDownloadError: a CIFAR download failed (an `OSError`).

    Example:

    >>> (x_train, y_train), (x_test, y_test) = load_dataset("digits")
    >>> x_train.shape, x_train.dtype, y_train.dtype
    ((1438, 32, 32, 3), dtype('float32'), dtype('int64'))
    """
    image_size = check_integer(image_size, "image_size", allow_none=True)
    key = os.fspath(name) if isinstance(name, os.PathLike) else name
    if not isinstance(key, str):
        raise ValueError(
            f"`name` must be a dataset name or a path. Received: name={name!r}"
        )
    if key.lower() in DATASETS:
        key = key.lower()
        if key == "digits":
            splits = _load_digits()
        elif key == "cifar2":
            splits = _cifar2()
        else:
            splits = _load_cifar(key)
    elif key.endswith(".npz") or os.path.isfile(key):
        if not os.path.isfile(key):
            raise FileNotFoundError(f"No such .npz file: {key!r}")
        splits = _load_npz(key)
    else:
        raise ValueError(
            f"Unknown dataset: {name!r}. Expected one of {list(DATASETS)} "
            "or the path of an .npz file holding x_train, y_train, x_test, y_test."
        )
    return tuple(
        (_finish_images(x, image_size), np.asarray(y, dtype="int64")) for x, y in splits
    )


def _load_digits():
    try:
        from sklearn.datasets import load_digits
    except ImportError as error:
        raise ImportError(
            'load_dataset("digits") needs scikit-learn, which is not installed: '
            "pip install scikit-learn"
        ) from error
    digits = load_digits()
    images = digits.images.astype("float32") / 16.0  # (1797, 8, 8), 0-16
    labels = digits.target.astype("int64")
    rng = np.random.default_rng(_DIGITS_SEED)
    test = np.zeros(len(labels), dtype=bool)
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        count = int(round(_DIGITS_TEST_FRACTION * len(members)))
        test[rng.choice(members, size=count, replace=False)] = True
    return (images[~test], labels[~test]), (images[test], labels[test])


def _load_cifar(name):
    module = getattr(keras.datasets, name)
    kwargs = {"label_mode": "fine"} if name == "cifar100" else {}
    try:
        (x_train, y_train), (x_test, y_test) = module.load_data(**kwargs)
    except Exception as error:  # keras.utils.get_file raises a bare Exception.
        cache = os.path.join(_keras_home(), "datasets")
        raise DatasetDownloadError(
            f"Could not download {name.upper()} from {_CIFAR_URLS[name]} "
            f"(keras.datasets.{name}.load_data failed: {error}). Keras keeps "
            f"its datasets in {cache}. To get the data offline, run "
            f"`keras.datasets.{name}.load_data()` on a machine with network "
            f"access and copy its {cache} folder here, or save the arrays as "
            "an .npz with x_train, y_train, x_test, y_test and pass its path "
            'to load_dataset. The "digits" dataset needs no download.'
        ) from error
    if keras.config.image_data_format() == "channels_first":
        x_train = np.transpose(x_train, (0, 2, 3, 1))
        x_test = np.transpose(x_test, (0, 2, 3, 1))
    return (
        (x_train.astype("float32") / 255.0, y_train.reshape(-1)),
        (x_test.astype("float32") / 255.0, y_test.reshape(-1)),
    )


def _cifar2():
    splits = []
    for x, y in _load_cifar("cifar10"):
        keep = np.isin(y, _CIFAR2_CLASSES)
        splits.append((x[keep], (y[keep] == _CIFAR2_CLASSES[1]).astype("int64")))
    return tuple(splits)


def _keras_home():
    if "KERAS_HOME" in os.environ:
        return os.environ["KERAS_HOME"]
    return os.path.join(os.path.expanduser("~"), ".keras")


def _load_npz(path):
    with open(path, "rb") as file:
        magic = file.read(4)
    if magic != b"PK\x03\x04":  # every .npz is a zip archive
        raise ValueError(
            f"{path} is not an .npz archive (the zip file that numpy.savez writes, "
            f"holding {list(_NPZ_KEYS)}); it starts with {magic!r}."
        )
    with np.load(path, allow_pickle=False) as archive:
        missing = [key for key in _NPZ_KEYS if key not in archive.files]
        if missing:
            raise ValueError(
                f"{path} lacks the arrays {missing}. An .npz dataset needs "
                f"{list(_NPZ_KEYS)}; it holds {sorted(archive.files)}."
            )
        arrays = {key: archive[key] for key in _NPZ_KEYS}
    splits = []
    for split in ("train", "test"):
        x = _npz_images(arrays[f"x_{split}"], f"x_{split}")
        y = arrays[f"y_{split}"]
        # (N, C) with C > 1: multi-hot label sets; otherwise one label each.
        check = label_sets if is_label_set_array(y) else class_labels
        y = check(y, f"y_{split}")
        if len(x) != len(y):
            raise ValueError(
                f"x_{split} and y_{split} must have the same length. Received: "
                f"x_{split}.shape={x.shape}, y_{split}.shape={y.shape}"
            )
        splits.append((x, y))
    (_, y_train), (_, y_test) = splits
    check_same_label_kind(y_train.shape, y_test.shape, ("y_train", "y_test"))
    if splits[0][0].shape[-1] != splits[1][0].shape[-1]:
        # Grey and RGB mixed: make both RGB.
        splits = [(_to_rgb(x), y) for x, y in splits]
    return tuple(splits)


def _npz_images(x, name):
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4 or x.shape[-1] not in (1, 3) or min(x.shape[1:3]) < 1:
        raise ValueError(
            f"`{name}` must have shape (N, H, W), (N, H, W, 1) or (N, H, W, 3) "
            f"(NHWC). Received: {name}.shape={x.shape}"
        )
    if np.issubdtype(x.dtype, np.integer):
        if x.size and (x.min() < 0 or x.max() > 255):
            raise ValueError(
                f"Integer `{name}` must hold values in 0-255. Received values in "
                f"[{x.min()}, {x.max()}]."
            )
        return x.astype("float32") / 255.0
    if np.issubdtype(x.dtype, np.floating):
        if x.size and not (np.isfinite(x).all() and x.min() >= 0 and x.max() <= 1):
            raise ValueError(
                f"Float `{name}` must hold finite values in [0, 1] (store uint8 "
                f"for 0-255). Received values in [{x.min()}, {x.max()}]."
            )
        return x.astype("float32")
    raise ValueError(
        f"`{name}` must be uint8 (0-255) or float (0-1). Received dtype {x.dtype}."
    )


def _to_rgb(x):
    if x.ndim == 3:
        x = x[..., None]
    return np.repeat(x, 3, axis=-1) if x.shape[-1] == 1 else x


def _finish_images(x, image_size):
    """Grey -> RGB, resize, clip to [0, 1], float32."""
    x = _to_rgb(np.asarray(x, dtype="float32"))
    if image_size is not None and x.shape[1:3] != (image_size, image_size):
        x = _resize_images(x, image_size)
    return np.clip(x, 0.0, 1.0).astype("float32")


def resize_images(images, size: int) -> np.ndarray:
    """Resizes images to `(size, size)` the way `load_dataset` does.

    Bilinear, anti-aliased when shrinking, in numpy (every backend gets the
    same pixels); grey images get 3 channels and values stay in `[0, 1]`.

    Args:
        images: float images `(N, H, W, C)` in `[0, 1]`, `C` 1 or 3.
        size: side of the output, an integer >= 1.

    Returns:
        float32 `(N, size, size, 3)`.

    Example:

    >>> resize_images(np.zeros((2, 8, 8, 3), "float32"), 16).shape
    (2, 16, 16, 3)
    """
    size = check_integer(size, "size")
    images = np.asarray(images)
    if images.ndim != 4:
        raise ValueError(
            f"`images` must have shape (N, H, W, C). Received: images.shape="
            f"{images.shape}"
        )
    return _finish_images(images, size)


def _resize_images(images, size):
    """Bilinear resize of NHWC float images to `(size, size)`, in numpy.

    Separable linear interpolation with half-pixel centres (as TensorFlow
    and PIL); when shrinking, the triangle filter is widened by the scale
    factor so that every input pixel contributes (anti-aliasing). Each output
    pixel is a convex combination of input pixels, so `[0, 1]` is kept.
    """
    rows = _interpolation_matrix(images.shape[1], size)
    columns = _interpolation_matrix(images.shape[2], size)
    out = np.empty((len(images), size, size, images.shape[3]), dtype="float32")
    for start in range(0, len(images), _RESIZE_CHUNK):
        chunk = images[start : start + _RESIZE_CHUNK]
        chunk = np.einsum("oh,nhwc->nowc", rows, chunk)
        out[start : start + _RESIZE_CHUNK] = np.einsum("pw,nowc->nopc", columns, chunk)
    return out


def _interpolation_matrix(in_size, out_size):
    """`(out_size, in_size)` weights of a (widened) triangle filter."""
    scale = in_size / out_size
    support = max(scale, 1.0)
    centres = (np.arange(out_size) + 0.5) * scale - 0.5
    distance = np.abs(np.arange(in_size)[None, :] - centres[:, None]) / support
    weights = np.maximum(0.0, 1.0 - distance)
    # Clamp at the borders: a centre beyond the edge takes the edge pixel.
    empty = weights.sum(axis=1) == 0
    weights[empty, np.clip(np.rint(centres[empty]), 0, in_size - 1).astype(int)] = 1
    return (weights / weights.sum(axis=1, keepdims=True)).astype("float32")
