"""The keras-sincere command at toy size: train, evaluate, compare, errors."""

import json
import os
import pathlib
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from keras_sincere import cli
from keras_sincere import experiments

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
        assert result.stderr == ""  # no TensorFlow log lines


HELP_WITHOUT_KERAS = """
import sys
from keras_sincere import cli
from keras_sincere import experiments
try:
    cli.main([*sys.argv[1:], "--help"])
except SystemExit as exit:
    assert exit.code == 0, exit.code
loaded = sorted(m for m in ("keras", "tensorflow", "jax", "torch") if m in sys.modules)
print("LOADED", loaded)
"""


@pytest.mark.parametrize("command", [[], ["compare"], ["train"], ["evaluate"]])
def test_help_does_not_import_keras_or_a_backend(command, tmp_path):
    """What makes `--help` instant: arguments are parsed before Keras loads."""
    # Named like the console script, which is what keeps the package lazy.
    script = tmp_path / "keras-sincere"
    script.write_text(HELP_WITHOUT_KERAS)
    result = subprocess.run(
        [sys.executable, str(script), *command],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(pathlib.Path(__file__).parents[1])},
    )
    assert result.returncode == 0, result.stderr
    assert "LOADED []" in result.stdout, result.stdout


def test_every_flag_has_help_text():
    parser = cli.build_parser()
    subparsers = parser._subparsers._group_actions[0].choices
    for name, subparser in subparsers.items():
        for action in subparser._actions:
            assert action.help, (name, action.dest)


@pytest.mark.parametrize(
    "flags, named",
    [
        (["--epochs", "0"], "--epochs"),
        (["--lr", "0"], "--lr"),
        (["--temperature", "0"], "--temperature"),
        (["--batch-size", "0"], "--batch-size"),
        (["--batch-size", "-8"], "--batch-size"),
        (["--epochs", "2.5"], "--epochs"),
        (["--min-crop", "1.5"], "--min-crop"),
        (["--losses", "sincere,nonsense"], "--losses"),
        (["--seeds", "0,x"], "--seeds"),
        (["--seeds", "1,1"], "--seeds"),
        (["--bootstrap", "0"], "--bootstrap"),
        (["--probe-epochs", "0"], "--probe-epochs"),
    ],
)
def test_bad_flags_are_one_error_line_naming_the_flag(flags, named, capsys):
    """Checked while parsing, before any data is loaded or model trained."""
    with pytest.raises(SystemExit) as exit:
        cli.main(["compare", *flags])
    assert exit.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith("keras-sincere compare: error: argument " + named)


def test_defaults_follow_the_recipe():
    plan = experiments.plan_training("cifar10", "sincere", 50000, 32)
    recipe = plan.recipe
    assert (recipe.epochs, recipe.batch_size, recipe.temperature) == (800, 512, 0.1)
    assert (plan.backbone, plan.width, plan.min_crop) == ("resnet50", 64, 0.2)
    assert recipe.warmup_epochs == 10
    supcon = experiments.plan_training("cifar10", "supcon", 50000, 32)
    assert supcon.recipe.temperature == 0.05
    digits = experiments.plan_training("digits", "sincere", 1438, 8)
    assert digits.recipe.dataset == "digits" and digits.backbone == "resnet18"


def test_help_states_the_digits_plan():
    digits = experiments.plan_training("digits", "sincere", 1438, 8)
    steps = digits.recipe.epochs * -(-1438 // digits.recipe.batch_size)
    flags = {
        action.dest: action.help
        for action in cli.build_parser()
        ._subparsers._group_actions[0]
        .choices["compare"]
        ._actions
    }
    assert f"digits: {digits.recipe.epochs} ({steps} steps)" in flags["epochs"]
    assert f"digits: {digits.recipe.batch_size};" in flags["batch_size"]
    assert f"(digits: {digits.recipe.learning_rate})" in flags["lr"]
    assert f"digits and small data: {digits.width};" in flags["width"]
    assert f"digits: {digits.image_size})" in flags["image_size"]


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
    # At another size the model's augmenter resizes, as in training; without
    # train.json the size defaults to the encoder's.
    (out / "train.json").unlink()
    for size in (["--image-size", "24"], []):
        command = ["evaluate", "--model", str(out / "model.keras"), *size]
        command += ["--dataset", str(toy_npz), "--probe-epochs", "1"]
        assert cli.main(command) == 0


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
                "--seeds",
                "0,1",
                "--output",
                str(out),
                "--bootstrap",
                "50",
                "--probe-epochs",
                "2",
                *TOY,
            ]
        )
        == 0
    )
    results = json.loads((out / "results.json").read_text())
    assert results["seeds"] == [0, 1] and results["losses"] == ["sincere", "supcon"]
    for name in ("sincere", "supcon"):
        for seed in ("0", "1"):
            run = results["runs"][name][seed]
            for key in ("margin", "knn1", "knn5", "loss_initial", "loss_final"):
                assert np.isfinite(run[key]), (name, seed, key)
            assert run["plan"]["seed"] == int(seed)
        assert results["summary"][name]["margin"]["n"] == 2
    assert set(results["bootstrap"]["sincere-supcon"]) == {"0", "1"}
    assert results["paired"]["sincere-supcon"]["margin"]["n"] == 2
    table = (out / "table.md").read_text()
    assert "Table 1" in table and "Table 4" in table and "Table 6" in table
    output = capsys.readouterr().out
    assert table in output
    assert "small-data plan for sincere" in output  # printed before training
    assert pathlib.Path(out / "similarity_histograms.png").stat().st_size > 1000


def test_a_starved_run_is_reported_unhealthy(toy_npz, tmp_path, capsys):
    out = tmp_path / "starved"
    code = cli.main(
        ["compare", "--dataset", str(toy_npz), "--seeds", "0", "--output", str(out)]
        + ["--probe-epochs", "1", "--bootstrap", "10", "--batch-size", "64"]
        + ["--width", "4", "--epochs", "1"]
    )
    assert code == 0
    results = json.loads((out / "results.json").read_text())
    warnings = [w["warning"] for w in results["warnings"]]
    assert any("optimizer steps" in w and "--epochs" in w for w in warnings)
    assert results["runs"]["sincere"]["0"]["warnings"]
    output = capsys.readouterr().out
    assert "warning: sincere seed 0" in output
    table = (out / "table.md").read_text()
    assert table.index("Unhealthy runs") < table.index("Table 1")
    assert "not judged" in table


def test_missing_download_is_a_clear_error(monkeypatch, capsys):
    import keras

    def offline(*args, **kwargs):
        raise Exception("URL fetch failure on https://example.invalid/cifar: offline")

    monkeypatch.setattr(keras.datasets.cifar10, "load_data", offline)
    code = cli.main(["train", "--dataset", "cifar10", *TOY])
    assert code == 2
    message = capsys.readouterr().err
    assert "cifar" in message.lower() and "digits" in message
    assert "--dataset PATH.npz" in message
    assert message.startswith("keras-sincere train: error: ")


def test_unknown_loss_is_rejected(tmp_path):
    with pytest.raises(SystemExit):
        cli.main(["compare", "--losses", "sincere,bogus", "--output", str(tmp_path)])


ONE_CLASS = np.zeros(96, int)
LONE_SAMPLE = np.where(np.arange(96) == 95, 7, np.arange(96) % 2)


@pytest.mark.parametrize(
    "labels, message",
    [(ONE_CLASS, "at least 2 classes"), (LONE_SAMPLE, "single sample (7)")],
    ids=["one_class", "lone_sample"],
)
def test_untrainable_labels_fail_before_training(tmp_path, capsys, labels, message):
    images = np.random.default_rng(0).integers(0, 256, (96, 8, 8, 3), dtype="uint8")
    path = tmp_path / "bad.npz"
    np.savez(path, x_train=images, y_train=labels, x_test=images, y_test=labels)
    for command in ("train", "compare"):
        code = cli.main(
            [command, "--dataset", str(path), "--output", str(tmp_path / command), *TOY]
        )
        assert code == 2
        error = capsys.readouterr().err.strip().splitlines()
        assert len(error) == 1 and error[0].startswith(
            f"keras-sincere {command}: error:"
        )
        assert message in error[0]
        assert not (tmp_path / command / "model.keras").exists()


def test_results_keep_the_original_classes(toy_npz, tmp_path):
    with np.load(toy_npz) as archive:
        arrays = dict(archive)
    for split in ("y_train", "y_test"):
        arrays[split] = 10 * arrays[split] + 1000
    path = tmp_path / "shifted.npz"
    np.savez(path, **arrays)
    out = tmp_path / "run"
    assert (
        cli.main(
            [
                "train",
                "--dataset",
                str(path),
                "--loss",
                "sincere",
                "--output",
                str(out),
                *TOY,
            ]
        )
        == 0
    )
    assert json.loads((out / "train.json").read_text())["classes"] == [1000, 1010, 1020]


def test_an_existing_run_is_kept_unless_overwrite(toy_npz, tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / "train.json").write_text("an earlier run")
    command = ["train", "--dataset", str(toy_npz), "--output", str(out), *TOY]
    assert cli.main(command) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and "already holds a run" in error[0], error
    assert (out / "train.json").read_text() == "an earlier run"
    assert cli.main([*command, "--overwrite"]) == 0
    assert "history" in json.loads((out / "train.json").read_text())
    assert not [p.name for p in out.iterdir() if ".partial-" in p.name]


@pytest.mark.parametrize("command", ["train", "compare"])
def test_an_output_under_a_file_fails_before_training(
    toy_npz, tmp_path, capsys, command
):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code = cli.main(
        [command, "--dataset", str(toy_npz), "--output", str(blocker / "run"), *TOY]
    )
    assert code == 2
    error = capsys.readouterr()
    assert error.err.startswith(f"keras-sincere {command}: error: --output ")
    assert len(error.err.strip().splitlines()) == 1
    assert "plan" not in error.out  # nothing was trained


REPO = pathlib.Path(__file__).resolve().parents[1]


def _killed_after_an_epoch(command, state_file):
    """Runs the CLI in a new process; SIGKILLs it once `state_file` says an
    epoch finished. Returns the epochs it had finished."""
    process = subprocess.Popen(
        [sys.executable, "-m", "keras_sincere.cli", *command],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 600
    while not state_file.is_file():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"no epoch finished: {process.communicate()[0][-3000:]}")
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.communicate()
    assert process.returncode == -signal.SIGKILL
    return json.loads(state_file.read_text())["epochs"]


def _weights(path):
    import keras

    return keras.models.load_model(path).get_weights()


def test_train_resumes_a_killed_run_to_the_same_weights(toy_npz, tmp_path, capsys):
    flags = ["--dataset", str(toy_npz), *TOY, "--epochs", "6", "--probe-epochs", "1"]
    killed, whole = tmp_path / "killed", tmp_path / "whole"
    done = _killed_after_an_epoch(
        ["train", *flags, "--output", str(killed)],
        killed / "checkpoints" / "sincere-seed0" / "state.json",
    )
    assert 1 <= done < 6
    assert not (killed / "model.keras").exists()
    # Without --resume the interrupted run is neither lost nor overwritten.
    assert cli.main(["train", *flags, "--output", str(killed)]) == 2
    assert "holds an interrupted run" in capsys.readouterr().err
    assert cli.main(["train", *flags, "--output", str(killed), "--resume"]) == 0
    resumed = capsys.readouterr().out
    assert cli.main(["train", *flags, "--output", str(whole)]) == 0
    assert f"resuming after epoch {done} of 6" in resumed, resumed
    assert not (killed / "checkpoints").exists()  # cleaned once saved
    history = json.loads((killed / "train.json").read_text())["history"]["loss"]
    expected = json.loads((whole / "train.json").read_text())["history"]["loss"]
    np.testing.assert_allclose(history, expected, rtol=1e-6)
    for got, want in zip(
        _weights(killed / "model.keras"), _weights(whole / "model.keras"), strict=True
    ):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)


def test_compare_resumes_a_killed_run_to_the_same_results(toy_npz, tmp_path, capsys):
    flags = ["--dataset", str(toy_npz), *TOY, "--epochs", "4", "--seeds", "0"]
    flags += ["--probe-epochs", "1", "--bootstrap", "10"]
    killed, whole = tmp_path / "killed", tmp_path / "whole"
    # Killed during the second loss: the first one's results are kept.
    done = _killed_after_an_epoch(
        ["compare", *flags, "--output", str(killed)],
        killed / "checkpoints" / "supcon-seed0" / "state.json",
    )
    assert 1 <= done < 4
    assert cli.main(["compare", *flags, "--output", str(killed), "--resume"]) == 0
    resumed = capsys.readouterr().out
    assert "sincere seed 0: finished before, loaded" in resumed, resumed
    assert f"resuming after epoch {done} of 4" in resumed, resumed
    assert cli.main(["compare", *flags, "--output", str(whole)]) == 0
    got = json.loads((killed / "results.json").read_text())["runs"]
    want = json.loads((whole / "results.json").read_text())["runs"]
    for loss in ("sincere", "supcon"):
        for key in ("loss_history", "margin", "knn1", "knn5"):
            np.testing.assert_allclose(
                got[loss]["0"][key], want[loss]["0"][key], rtol=1e-5, err_msg=key
            )


def test_resume_refuses_other_settings(toy_npz, tmp_path, capsys):
    out = tmp_path / "run"
    flags = ["--dataset", str(toy_npz), *TOY, "--output", str(out)]
    assert cli.main(["train", *flags, "--resume"]) == 2
    assert "holds no interrupted run" in capsys.readouterr().err
    (out / "checkpoints").mkdir()
    (out / "checkpoints" / "settings.json").write_text('{"command": "train"}')
    assert cli.main(["train", *flags, "--resume"]) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and "settings differ from the interrupted run" in error[0]
    with pytest.raises(SystemExit, match="2"):
        cli.main(["train", *flags, "--resume", "--overwrite"])
    assert "not allowed with argument" in capsys.readouterr().err
