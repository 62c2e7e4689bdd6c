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


def build_all(output: pathlib.Path) -> list:
    """Writes every data set of the table above into `output`."""
    output.mkdir(parents=True, exist_ok=True)
    sets = {
        "digits2": digits_dataset((3, 8), 75),
        "digits5": digits_dataset((0, 1, 2, 3, 4), 100),
        "photos": patch_dataset(_photos(), 200, 100),
        "textures": patch_dataset(_grey_sources(), 150, 50),
    }
    paths = []
    for name, arrays in sets.items():
        path = output / f"{name}.npz"
        np.savez_compressed(path, **arrays)
        paths.append(path)
        print(
            f"{path}: x_train {arrays['x_train'].shape}, x_test "
            f"{arrays['x_test'].shape}, {len(np.unique(arrays['y_train']))} classes"
        )
    return paths


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--output", default="runs/data", help="output folder")
    build_all(pathlib.Path(parser.parse_args().output))


if __name__ == "__main__":
    main()
