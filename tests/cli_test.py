"""The keras-sincere command at toy size: train, evaluate, compare, errors.

Training is the cost here: tests that only read a run share one (fixtures of
module scope), and the commands run at toy size (2 epochs of 2 steps).
"""

import contextlib
import importlib.util
import io
import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import time
import types

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


@pytest.fixture(scope="module")
def toy_npz(tmp_path_factory):
    """A small image set in the .npz format users bring: 3 coloured classes."""
    tmp_path = tmp_path_factory.mktemp("data")
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


def _run_at_once(commands, **kwargs):
    """Runs the commands in parallel processes; `(stdout, stderr, code)` each."""
    processes = [
        subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            **kwargs,
        )
        for command in commands
    ]
    results = []
    for process in processes:
        stdout, stderr = process.communicate(timeout=120)
        results.append((stdout, stderr, process.returncode))
    return results


HELP_COMMANDS = ([], ["train"], ["evaluate"], ["compare"])


def test_every_subcommand_has_help():
    module = [sys.executable, "-m", "keras_sincere.cli"]
    results = _run_at_once([[*module, *command, "--help"] for command in HELP_COMMANDS])
    for stdout, stderr, code in results:
        assert code == 0, stderr
        assert "usage: keras-sincere" in stdout
        assert stderr == ""  # no TensorFlow log lines


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


def test_help_does_not_import_keras_or_a_backend(tmp_path):
    """What makes `--help` instant: arguments are parsed before Keras loads."""
    # Named like the console script, which is what keeps the package lazy.
    script = tmp_path / "keras-sincere"
    script.write_text(HELP_WITHOUT_KERAS)
    results = _run_at_once(
        [[sys.executable, str(script), *command] for command in HELP_COMMANDS],
        env={**os.environ, "PYTHONPATH": str(pathlib.Path(__file__).parents[1])},
    )
    for (stdout, stderr, code), command in zip(results, HELP_COMMANDS, strict=True):
        assert code == 0, (command, stderr)
        assert "LOADED []" in stdout, (command, stdout)


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


def test_loss_names_are_those_of_the_registry():
    """`losses.get`'s names and the alias `eps`, each reported canonically."""
    from keras_sincere import losses

    for name in [*losses.LOSSES, "eps"]:
        assert name in cli.LOSS_HELP
    parser = cli.build_parser()
    compare = parser.parse_args(["compare", "--losses", "sincere,eps,InfoNCELoss"])
    assert compare.losses == ["sincere", "epsilon_supinfonce", "infonce"]
    assert parser.parse_args(["train", "--loss", "eps"]).loss == "epsilon_supinfonce"
    assert parser.parse_args(["train"]).loss == "sincere"


def test_a_loss_named_twice_is_one_error_line(capsys):
    with pytest.raises(SystemExit) as exit:
        cli.main(["compare", "--losses", "eps,epsilon_supinfonce"])
    assert exit.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith("keras-sincere compare: error: argument --losses")
    assert "listed twice" in error


def _publish_results_script():
    path = pathlib.Path(__file__).parents[1] / "scripts" / "publish_results.py"
    spec = importlib.util.spec_from_file_location("publish_results", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_published_tables_read_results_written_with_the_old_eps_name(tmp_path):
    figure = {"mean": 0.25, "n": 3, "half_width": 0.1, "low": 0.15, "high": 0.35}
    summary = {key: figure for key in ("margin", "loss_initial", "loss_final")}
    summary.update(knn1=figure, knn5=figure, probe_accuracy=figure)
    summary.update({key: figure for key, _ in experiments.tables.RETRIEVAL_COLUMNS})
    paired = {key: {**figure, "wins": 2} for key in ("margin", "loss_final", "knn1")}
    record = {
        "dataset": "digits",
        "backend": "jax",
        "losses": ["sincere", "eps"],
        "seeds": [0, 1, 2],
        "runs": {"sincere": {}, "eps": {}},
        "summary": {"sincere": summary, "eps": summary},
        "paired": {"sincere-eps": paired},
        "bootstrap": {"sincere-eps": {}},
        "warnings": [{"loss": "eps", "seed": 1, "warning": "collapsed"}],
    }
    (tmp_path / "results.json").write_text(json.dumps(record))
    script = _publish_results_script()
    loaded = script._load(tmp_path)
    assert loaded["losses"] == ["sincere", "epsilon_supinfonce"]
    assert set(loaded["summary"]) == {"sincere", "epsilon_supinfonce"}
    assert set(loaded["paired"]) == {"sincere-epsilon_supinfonce"}
    assert loaded["warnings"][0]["loss"] == "epsilon_supinfonce"
    rows = script.summary_table([loaded], "backend").splitlines()
    assert "| jax | epsilon_supinfonce | 0.250 ± 0.100 |" in rows[-1]
    assert "1 warning(s)" in rows[-1] and "healthy" in rows[-2]
    assert "| jax | +0.250 [+0.150, +0.350] | 2/3 |" in script.paired_table(
        [loaded], "backend"
    )
    # The README's retrieval table: the columns compare prints, per backend.
    retrieval = script.retrieval_table([loaded]).splitlines()
    header = "| backend | loss | P@1 | R-precision | MAP@R | R@1 | R@2 | R@4 | R@8 |"
    assert retrieval[0] == header + " NMI |"
    assert retrieval[-1] == "| jax | epsilon_supinfonce |" + " 25.00 ± 10.00 |" * 8


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
    assert f"(digits: {digits.recipe.learning_rate})" in flags["learning_rate"]
    assert f"digits and small data: {digits.width};" in flags["width"]
    assert f"digits: {digits.image_size})" in flags["image_size"]


def _main(command):
    """`cli.main(command)`, with what it printed: `(code, stdout, stderr)`."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(command)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def shifted_npz(toy_npz):
    """The toy set with labels 1000, 1010, 1020 (not 0..C-1)."""
    with np.load(toy_npz) as archive:
        arrays = dict(archive)
    for split in ("y_train", "y_test"):
        arrays[split] = 10 * arrays[split] + 1000
    path = toy_npz.parent / "shifted.npz"
    np.savez(path, **arrays)
    return path


# The shared train run; also the uninterrupted run the resumed one must equal.
TRAIN_EPOCHS = 6
TRAIN = [*TOY, "--epochs", str(TRAIN_EPOCHS), "--probe-epochs", "1"]


@pytest.fixture(scope="module")
def trained(shifted_npz, tmp_path_factory):
    """One `train` run (shifted labels) into a folder that held an earlier run:
    refused first, then `--overwrite`n. Tests only read its folder.

    Mapped to 0..C-1, the shifted labels are the toy set's: the training is
    that of the toy set.
    """
    out = tmp_path_factory.mktemp("train") / "run"
    out.mkdir()
    (out / "train.json").write_text("an earlier run")
    command = ["train", "--dataset", str(shifted_npz), "--output", str(out)]
    command += ["--loss", "sincere", *TRAIN]
    refused = _main(command)
    earlier = (out / "train.json").read_text()
    overwritten = _main([*command, "--overwrite"])
    return types.SimpleNamespace(
        out=out, refused=refused, earlier=earlier, overwritten=overwritten
    )


def test_train_then_evaluate(trained, toy_npz, tmp_path):
    out = trained.out
    assert trained.overwritten[0] == 0
    record = json.loads((out / "train.json").read_text())
    assert len(record["history"]["loss"]) == TRAIN_EPOCHS
    # Evaluated on the toy set's own labels (0, 1, 2), in a copy of the run.
    run = tmp_path / "run"
    shutil.copytree(out, run)
    assert (
        cli.main(
            [
                "evaluate",
                "--model",
                str(run / "model.keras"),
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
    metrics = json.loads((run / "evaluation.json").read_text())
    assert 0.0 <= metrics["knn1"] <= 1.0 and -2.0 <= metrics["margin"] <= 2.0
    for key in ("precision_at_1", "map_at_r", "recall_at_8", "nmi"):
        assert 0.0 <= metrics[key] <= 1.0, key
    assert (run / "similarity_histograms.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # At another size the model's augmenter resizes, as in training; without
    # train.json the size defaults to the encoder's.
    (run / "train.json").unlink()
    for size in (["--image-size", "24"], []):
        command = ["evaluate", "--model", str(run / "model.keras"), *size]
        command += ["--dataset", str(toy_npz), "--probe-epochs", "1"]
        assert cli.main(command) == 0


def test_train_on_multi_hot_label_sets(toy_npz, tmp_path):
    """An .npz whose labels are sets: trained with a memory of sets, judged
    with the multi-label kNN, margin and retrieval; no softmax probe."""
    with np.load(toy_npz) as archive:
        arrays = dict(archive)
    # Classes 0, 1, 2 become the sets {0}, {0, 1}, {1, 2}: 0 and 2 are disjoint.
    sets = np.array([[1, 0, 0], [1, 1, 0], [0, 1, 1]], dtype="uint8")
    for split in ("y_train", "y_test"):
        arrays[split] = sets[arrays[split]]
    path = tmp_path / "sets.npz"
    np.savez(path, **arrays)
    out = tmp_path / "run"
    command = ["train", "--dataset", str(path), "--output", str(out)]
    command += ["--loss", "sincere", "--memory-size", "64", *TOY]
    code, _, err = _main(command)
    assert code == 0, err
    record = json.loads((out / "train.json").read_text())
    assert record["classes"] == [0, 1, 2]
    for key in ("knn1", "margin", "map_at_r", "precision_at_1", "loss_final"):
        assert np.isfinite(record[key]), key
    assert record["probe_accuracy"] is None  # NaN: no softmax probe for sets
    # Noise: the two views of every sample of the other disjoint class, plus
    # the memory's share of it (a third of the samples are disjoint from a
    # third): (2 * 64 + 64) * 2 / 9.
    assert record["noise_count"] == pytest.approx(192 * 2 / 9)


def test_results_keep_the_original_classes(trained):
    assert trained.overwritten[0] == 0
    record = json.loads((trained.out / "train.json").read_text())
    assert record["classes"] == [1000, 1010, 1020]


def test_an_existing_run_is_kept_unless_overwrite(trained):
    code, _, err = trained.refused
    assert code == 2
    error = err.strip().splitlines()
    assert len(error) == 1 and "already holds a run" in error[0], error
    assert trained.earlier == "an earlier run"
    assert trained.overwritten[0] == 0
    assert "history" in json.loads((trained.out / "train.json").read_text())
    assert not [p.name for p in trained.out.iterdir() if ".partial-" in p.name]


# The shared compare run's plan, with a cross-batch memory; also that of the
# resume test's runs.
COMPARE = [*TOY, "--epochs", "4", "--memory-size", "96", "--memory-warmup", "2"]


@pytest.fixture(scope="module")
def compared(toy_npz, tmp_path_factory):
    """One toy `compare`: 2 losses, 2 seeds, 8 steps a run (so unhealthy),
    with a cross-batch memory of 96 embeddings used from the third step."""
    out = tmp_path_factory.mktemp("compare") / "compare"
    command = ["compare", "--dataset", str(toy_npz), "--losses", "sincere,supcon"]
    command += ["--seeds", "0,1", "--output", str(out), "--bootstrap", "50"]
    command += ["--probe-epochs", "2", *COMPARE]
    code, output, _ = _main(command)
    return types.SimpleNamespace(out=out, code=code, output=output)


def test_compare_writes_the_tables(compared):
    out = compared.out
    assert compared.code == 0
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
    assert "| loss | P@1 | R-precision | MAP@R | R@1 | R@2 | R@4 | R@8 | NMI |" in table
    assert results["summary"]["sincere"]["map_at_r"]["n"] == 2
    assert table in compared.output
    assert "small-data plan for sincere" in compared.output  # printed before training
    # The memory and the noise each anchor met: the batch's and the memory's.
    assert "memory 96 embeddings (used from step 3)" in table
    plan = results["runs"]["sincere"]["0"]["plan"]
    assert (plan["memory_size"], plan["memory_warmup_steps"]) == (96, 2)
    noise = results["runs"]["sincere"]["0"]["noise_count"]
    assert 96 < noise < 2 * 64 + 96, noise
    assert pathlib.Path(out / "similarity_histograms.png").stat().st_size > 1000
    assert pathlib.Path(out / "embedding_maps.png").stat().st_size > 1000


def test_a_starved_run_is_reported_unhealthy(compared):
    """8 optimizer steps a run: every run is flagged, no winner declared."""
    assert compared.code == 0
    results = json.loads((compared.out / "results.json").read_text())
    warnings = [w["warning"] for w in results["warnings"]]
    assert any("optimizer steps" in w and "--epochs" in w for w in warnings)
    assert results["runs"]["sincere"]["0"]["warnings"]
    assert "warning: sincere seed 0" in compared.output
    table = (compared.out / "table.md").read_text()
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


def test_train_resumes_a_killed_run_to_the_same_weights(
    toy_npz, trained, tmp_path, capsys
):
    flags = ["--dataset", str(toy_npz), *TRAIN]
    killed, whole = tmp_path / "killed", trained.out  # whole: uninterrupted
    done = _killed_after_an_epoch(
        ["train", *flags, "--output", str(killed)],
        killed / "checkpoints" / "sincere-seed0" / "state.json",
    )
    assert 1 <= done < TRAIN_EPOCHS
    assert not (killed / "model.keras").exists()
    # Without --resume the interrupted run is neither lost nor overwritten.
    assert cli.main(["train", *flags, "--output", str(killed)]) == 2
    assert "holds an interrupted run" in capsys.readouterr().err
    assert cli.main(["train", *flags, "--output", str(killed), "--resume"]) == 0
    resumed = capsys.readouterr().out
    assert trained.overwritten[0] == 0
    assert f"resuming after epoch {done} of {TRAIN_EPOCHS}" in resumed, resumed
    assert not (killed / "checkpoints").exists()  # cleaned once saved
    history = json.loads((killed / "train.json").read_text())["history"]["loss"]
    expected = json.loads((whole / "train.json").read_text())["history"]["loss"]
    np.testing.assert_allclose(history, expected, rtol=1e-6)
    for got, want in zip(
        _weights(killed / "model.keras"), _weights(whole / "model.keras"), strict=True
    ):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)


def test_compare_resumes_a_killed_run_to_the_same_results(
    toy_npz, compared, tmp_path, capsys
):
    flags = ["--dataset", str(toy_npz), *COMPARE, "--seeds", "0"]
    flags += ["--probe-epochs", "1", "--bootstrap", "10"]
    # The uninterrupted runs: seed 0 of the shared comparison, whose runs of
    # seed 0 come first and do not depend on the other seed's.
    killed, whole = tmp_path / "killed", compared.out
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
    assert compared.code == 0
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
