"""The keras-sincere command at toy size: train, evaluate, compare, errors."""

import json
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from keras_sincere import cli

TOY = [
    "--epochs",
    "2",
    "--batch-size",
    "64",
    "--width",
    "4",
    "--image-size",
    "16",
    "--verbose",
    "0",
]


@pytest.fixture
def toy_npz(tmp_path):
    """A small image set in the .npz format users bring: 3 coloured classes."""
    rng = np.random.default_rng(0)

    def split(n):
        labels = np.arange(n) % 3
        colours = np.eye(3)[labels][:, None, None, :]
        images = 0.6 * colours + 0.4 * rng.random((n, 12, 12, 3))
        return (255 * images).astype("uint8"), labels

    x_train, y_train = split(96)
    x_test, y_test = split(30)
    path = tmp_path / "toy.npz"
    np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    return path


def test_every_subcommand_has_help():
    for command in ([], ["train"], ["evaluate"], ["compare"]):
        result = subprocess.run(
            [sys.executable, "-m", "keras_sincere.cli", *command, "--help"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        assert "usage: keras-sincere" in result.stdout


def test_defaults_follow_the_recipe():
    args = cli.build_parser().parse_args(["train", "--dataset", "cifar10"])
    plan = cli.resolve_plan(args, "sincere")
    assert (plan.epochs, plan.batch_size, plan.temperature) == (800, 512, 0.1)
    assert (plan.backbone, plan.width, plan.min_crop) == ("resnet50", 64, 0.2)
    assert plan.warmup_epochs == 10
    supcon = cli.resolve_plan(args, "supcon")
    assert supcon.temperature == 0.05
    digits = cli.resolve_plan(cli.build_parser().parse_args(["compare"]), "sincere")
    assert digits.dataset == "digits" and digits.backbone == "resnet18"


def test_train_then_evaluate(toy_npz, tmp_path):
    out = tmp_path / "run"
    assert (
        cli.main(
            [
                "train",
                "--dataset",
                str(toy_npz),
                "--loss",
                "sincere",
                "--output",
                str(out),
                *TOY,
            ]
        )
        == 0
    )
    record = json.loads((out / "train.json").read_text())
    assert len(record["history"]["loss"]) == 2
    assert (
        cli.main(
            [
                "evaluate",
                "--model",
                str(out / "model.keras"),
                "--dataset",
                str(toy_npz),
                "--image-size",
                "16",
                "--probe-epochs",
                "5",
            ]
        )
        == 0
    )
    metrics = json.loads((out / "evaluation.json").read_text())
    assert 0.0 <= metrics["knn1"] <= 1.0 and -2.0 <= metrics["margin"] <= 2.0
    assert (out / "similarity_histograms.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_compare_writes_the_tables(toy_npz, tmp_path, capsys):
    out = tmp_path / "compare"
    assert (
        cli.main(
            [
                "compare",
                "--dataset",
                str(toy_npz),
                "--losses",
                "sincere,supcon",
                "--output",
                str(out),
                "--bootstrap",
                "50",
                *TOY,
            ]
        )
        == 0
    )
    results = json.loads((out / "results.json").read_text())
    for name in ("sincere", "supcon"):
        for key in ("margin", "knn1", "knn5", "loss_initial", "loss_final"):
            assert np.isfinite(results[name][key]), (name, key)
    assert "sincere-supcon" in results["bootstrap"]
    table = (out / "table.md").read_text()
    assert "Table 1" in table and "Table 4" in table and "Table 6" in table
    assert table in capsys.readouterr().out
    assert pathlib.Path(out / "similarity_histograms.png").stat().st_size > 1000


def test_missing_download_is_a_clear_error(monkeypatch, capsys):
    import keras

    def offline(*args, **kwargs):
        raise Exception("URL fetch failure on https://example.invalid/cifar: offline")

    monkeypatch.setattr(keras.datasets.cifar10, "load_data", offline)
    code = cli.main(["train", "--dataset", "cifar10", *TOY])
    assert code == 2
    message = capsys.readouterr().err
    assert "cifar" in message.lower() and "digits" in message


def test_unknown_loss_is_rejected(tmp_path):
    with pytest.raises(SystemExit):
        cli.main(["compare", "--losses", "sincere,bogus", "--output", str(tmp_path)])
