"""Small image data sets built from pictures that ship inside installed packages.

No download: the sources are scikit-learn's sample photos (`china.jpg`,
`flower.jpg`) and matplotlib's sample data (`grace_hopper.jpg`, a terrain
elevation model, an MRI slice). Each class is one source picture; its
images are 32x32 patches at random places, the training patches from the
left 70% of the picture and the test patches from the right 30%, so no
test patch overlaps a training patch; each patch is averaged over 2x2
pixels to 16x16 (small images keep CPU runs short). Written as `.npz`
files that `keras-sincere compare --dataset PATH.npz` reads.

    python scripts/small_datasets.py --output runs/data

| file | kind | classes | train / test |
|---|---|---|---|
| digits2.npz | grey 8x8 digits 3 and 8 | 2 | 150 / 72 |
| digits5.npz | grey 8x8 digits 0-4 | 5 | 500 / 180 |
| photos.npz | colour photo patches, 16x16 | 3 | 600 / 300 |
| textures.npz | grey terrain, MRI, photo patches, 16x16 | 3 | 450 / 150 |
| digits_attributes.npz | embedded digits, attribute sets | 4 (multi-hot) | 1438 / 359 |

`digits_attributes.npz` is multi-label: the images and split of
`keras_sincere.data.load_dataset("digits")`, each labelled with the set of
its digit's attributes among `ATTRIBUTES` (even; greater than 4; drawn with
a closed loop: 0, 6, 8, 9; prime). A 1 has none of them: a sample with no
label, a negative of every anchor. Two digits share a label when they share
an attribute.
"""

import argparse
import gzip
import pathlib

import numpy as np

PATCH = 32
TRAIN_SHARE = 0.7
DIGITS_TEST_PER_CLASS = 36


def _photos():
    import matplotlib.cbook
    import matplotlib.image
    from sklearn.datasets import load_sample_images

    china, flower = load_sample_images().images
    hopper = matplotlib.image.imread(
        matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
    )
    return [china, flower, hopper]


def _grey_sources():
    import matplotlib.cbook
    from sklearn.datasets import load_sample_images

    elevation = matplotlib.cbook.get_sample_data("jacksboro_fault_dem.npz")["elevation"]
    path = matplotlib.cbook.get_sample_data("s1045.ima.gz", asfileobj=False)
    with gzip.open(path) as stream:
        mri = np.frombuffer(stream.read(), np.uint16).reshape(256, 256)
    china = load_sample_images().images[0].mean(axis=-1)
    return [elevation, mri, china]


def _unit(picture):
    picture = picture.astype("float32")
    low, high = picture.min(), picture.max()
    return (picture - low) / (high - low)


def _patches(picture, count, train, rng):
    """`count` random 32x32 patches from the train or test columns, as 16x16."""
    width = picture.shape[1]
    split = int(TRAIN_SHARE * width)
    low, high = (0, split - PATCH) if train else (split, width - PATCH)
    rows = rng.integers(0, picture.shape[0] - PATCH + 1, count)
    cols = rng.integers(low, high + 1, count)
    patches = np.stack(
        [picture[r : r + PATCH, c : c + PATCH] for r, c in zip(rows, cols, strict=True)]
    )
    # 2x2 averages: (count, 16, 2, 16, 2, ...) -> (count, 16, 16, ...)
    half = patches.reshape(count, PATCH // 2, 2, PATCH // 2, 2, *patches.shape[3:])
    return half.mean(axis=(2, 4))


def patch_dataset(pictures, train_per_class, test_per_class, seed=0):
    """One class per picture: `(x_train, y_train, x_test, y_test)` uint8."""
    rng = np.random.default_rng(seed)
    splits = {}
    for split, count in (("train", train_per_class), ("test", test_per_class)):
        images, labels = [], []
        for label, picture in enumerate(pictures):
            patches = _patches(_unit(picture), count, split == "train", rng)
            images.append(np.round(255 * patches).astype("uint8"))
            labels.append(np.full(count, label))
        splits[f"x_{split}"] = np.concatenate(images)
        splits[f"y_{split}"] = np.concatenate(labels)
    return splits


def digits_dataset(classes, train_per_class, seed=0):
    """Digits of the given classes: `train_per_class` each, the rest test."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    rng = np.random.default_rng(seed)
    train, test = [], []
    for label in classes:
        members = rng.permutation(np.flatnonzero(digits.target == label))
        train.append(members[:train_per_class])
        test.append(members[train_per_class : train_per_class + DIGITS_TEST_PER_CLASS])
    images = np.round(255 * digits.images / 16).astype("uint8")
    relabel = {label: index for index, label in enumerate(classes)}
    result = {}
    for split, members in (("train", train), ("test", test)):
        index = np.concatenate(members)
        result[f"x_{split}"] = images[index]
        result[f"y_{split}"] = np.array([relabel[t] for t in digits.target[index]])
    return result


ATTRIBUTES = ("even", "greater than 4", "closed loop", "prime")
# The attributes of each digit 0-9, as a row of `ATTRIBUTES`.
DIGIT_ATTRIBUTES = np.array(
    [
        [1, 0, 1, 0],  # 0
        [0, 0, 0, 0],  # 1: none
        [1, 0, 0, 1],  # 2
        [0, 0, 0, 1],  # 3
        [1, 0, 0, 0],  # 4
        [0, 1, 0, 1],  # 5
        [1, 1, 1, 0],  # 6
        [0, 1, 0, 1],  # 7
        [1, 1, 1, 0],  # 8
        [0, 1, 1, 0],  # 9
    ],
    dtype="uint8",
)


def attributes_dataset():
    """The embedded digits labelled with the attribute sets of their digits."""
    from keras_sincere.data import load_dataset

    (x_train, y_train), (x_test, y_test) = load_dataset("digits", image_size=None)
    return {
        "x_train": np.round(255 * x_train[..., 0]).astype("uint8"),
        "y_train": DIGIT_ATTRIBUTES[y_train],
        "x_test": np.round(255 * x_test[..., 0]).astype("uint8"),
        "y_test": DIGIT_ATTRIBUTES[y_test],
    }


def build_all(output: pathlib.Path) -> list:
    """Writes every data set of the table above into `output`."""
    output.mkdir(parents=True, exist_ok=True)
    sets = {
        "digits2": digits_dataset((3, 8), 75),
        "digits5": digits_dataset((0, 1, 2, 3, 4), 100),
        "photos": patch_dataset(_photos(), 200, 100),
        "textures": patch_dataset(_grey_sources(), 150, 50),
        "digits_attributes": attributes_dataset(),
    }
    paths = []
    for name, arrays in sets.items():
        path = output / f"{name}.npz"
        np.savez_compressed(path, **arrays)
        paths.append(path)
        labels = arrays["y_train"]
        classes = labels.shape[1] if labels.ndim == 2 else len(np.unique(labels))
        print(
            f"{path}: x_train {arrays['x_train'].shape}, x_test "
            f"{arrays['x_test'].shape}, {classes} classes"
            + (" (multi-hot sets)" if labels.ndim == 2 else "")
        )
    return paths


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--output", default="runs/data", help="output folder")
    build_all(pathlib.Path(parser.parse_args().output))


if __name__ == "__main__":
    main()
