"""Run folders that refuse to lose a run, and atomic writes."""

import pathlib

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
