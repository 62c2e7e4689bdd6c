"""Run folders that refuse to lose a run, and atomic writes."""

import pathlib

import numpy as np
import pytest

from keras_sincere import run_files


def test_a_new_folder_is_created(tmp_path):
    folder = run_files.prepare_output_folder(tmp_path / "a" / "b")
    assert folder.is_dir() and list(folder.iterdir()) == []


def test_a_folder_holding_a_run_needs_overwrite(tmp_path):
    (tmp_path / "train.json").write_text("{}")
    with pytest.raises(
        ValueError, match=r"already holds a run \(train.json\).*--overwrite"
    ):
        run_files.prepare_output_folder(tmp_path)
    assert run_files.prepare_output_folder(tmp_path, overwrite=True) == tmp_path


def test_a_file_or_a_path_under_a_file_is_rejected(tmp_path):
    afile = tmp_path / "file"
    afile.write_text("x")
    with pytest.raises(ValueError, match="is a file, not a folder"):
        run_files.prepare_output_folder(afile)
    with pytest.raises(ValueError, match="cannot create the folder"):
        run_files.prepare_output_folder(afile / "run")


def test_an_unwritable_folder_is_rejected(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(run_files.tempfile, "NamedTemporaryFile", refuse)
    with pytest.raises(ValueError, match="is not writable \\(Permission denied\\)"):
        run_files.prepare_output_folder(tmp_path)


def test_an_interrupted_write_leaves_the_old_file(tmp_path):
    target = tmp_path / "results.json"
    target.write_text("old")

    def interrupted(path):
        path.write_text("half of the ne")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_files.write_atomically(target, interrupted)
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.json"]
    run_files.write_text_atomically(target, "new")
    assert target.read_text() == "new"


def test_the_writer_sees_the_suffix(tmp_path):
    seen = []
    run_files.write_atomically(
        tmp_path / "model.keras", lambda path: (seen.append(path), path.write_text("m"))
    )
    assert seen[0].suffix == ".keras" and seen[0].parent == tmp_path
    assert (tmp_path / "model.keras").read_text() == "m"
    run_files.write_atomically(
        tmp_path / "epoch-3.weights.h5",
        lambda path: (seen.append(path), path.write_text("w")),
    )
    assert seen[1].name.endswith(".weights.h5")  # what Keras requires


class _Model:
    """Saves anywhere but under `refused`."""

    def __init__(self, refused):
        self.refused = refused

    def save(self, path):
        path = pathlib.Path(path)
        if path.parent == self.refused:
            raise OSError(28, "No space left on device")
        path.write_text("weights")


def test_a_failed_save_keeps_the_model_elsewhere_and_says_where(tmp_path):
    with pytest.raises(ValueError, match="No space left on device") as error:
        run_files.save_model_or_keep_it(_Model(tmp_path), tmp_path / "model.keras")
    kept = pathlib.Path(str(error.value).split("saved at ")[1].rstrip("."))
    assert kept.read_text() == "weights"
    assert not (tmp_path / "model.keras").exists()


def test_an_interrupted_run_needs_resume_or_overwrite(tmp_path):
    with pytest.raises(ValueError, match="holds no interrupted run"):
        run_files.prepare_output_folder(tmp_path, resume=True)
    (tmp_path / "checkpoints").mkdir()
    with pytest.raises(ValueError, match="interrupted run.*--resume.*--overwrite"):
        run_files.prepare_output_folder(tmp_path)
    (tmp_path / "model.keras").write_text("saved before the interruption")
    assert run_files.prepare_output_folder(tmp_path, resume=True) == tmp_path
    assert (tmp_path / "checkpoints").is_dir()
    with pytest.raises(ValueError, match="exclude each other"):
        run_files.prepare_output_folder(tmp_path, overwrite=True, resume=True)
    run_files.prepare_output_folder(tmp_path, overwrite=True)
    assert not (tmp_path / "checkpoints").exists()


def test_resuming_needs_the_recorded_settings(tmp_path):
    settings = {"plan": {"epochs": 4, "lr": 0.1}, "seeds": (0, 1)}
    checkpoints = run_files.start_or_resume(tmp_path, settings)
    assert checkpoints == tmp_path / "checkpoints" and checkpoints.is_dir()
    assert run_files.start_or_resume(tmp_path, settings) == checkpoints
    changed = {"plan": {"epochs": 5, "lr": 0.1}, "seeds": (0, 1)}
    with pytest.raises(ValueError, match="plan: .*'epochs': 4.* then, .*5.* now"):
        run_files.start_or_resume(tmp_path, changed)
    run_files.finish(tmp_path)
    assert not checkpoints.exists()


def _dense_model(seed):
    import keras

    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9), loss="mse")
    return model


def test_an_epoch_checkpoint_restores_weights_and_optimizer(tmp_path):
    x = np.arange(12, dtype="float32").reshape(4, 3) / 10
    y = np.ones((4, 2), "float32")
    model = _dense_model(0)
    model.fit(x, y, epochs=1, verbose=0)
    checkpoint = run_files.EpochCheckpoint(tmp_path / "run")
    assert checkpoint.state()["epochs"] == 0
    checkpoint.save(model, 1, {"loss": [0.5]})
    model.fit(x, y, epochs=1, verbose=0)
    checkpoint.save(model, 2, {"loss": [0.5, 0.4]})
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == [
        "epoch-2.weights.h5",
        "state.json",
    ]
    restored = _dense_model(1)
    state = checkpoint.restore(restored)
    assert state["epochs"] == 2 and state["history"] == {"loss": [0.5, 0.4]}
    for got, want in zip(restored.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_array_equal(got, want)
    assert int(restored.optimizer.iterations) == int(model.optimizer.iterations) == 2
    # The momentum too: one more step from each gives the same weights.
    model.fit(x, y, epochs=1, verbose=0, shuffle=False)
    restored.fit(x, y, epochs=1, verbose=0, shuffle=False)
    for got, want in zip(restored.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-6)


def test_json_records_are_written_json_ready(tmp_path):
    record = {
        "knn1": np.float32(0.5),
        "n": np.int64(3),
        "diverged": np.bool_(True),
        "history": np.array([1.0, 2.0]),
        "margin": float("nan"),
        7: (1, 2),
    }
    path = run_files.write_json_atomically(tmp_path / "results.json", record)
    assert run_files.read_json(path) == {
        "knn1": 0.5,
        "n": 3,
        "diverged": True,
        "history": [1.0, 2.0],
        "margin": None,
        "7": [1, 2],
    }
    assert path.read_text().startswith('{\n  "knn1": 0.5,')  # indented
