"""Run folders and files written so that an interruption loses nothing.

Every file the command writes goes to a temporary name in its own folder and
is renamed into place (`os.replace`, atomic on one file system): a run
interrupted while saving leaves either the old file or the new one, never a
truncated one. While a run trains, its folder holds `checkpoints/`: the state
after each finished epoch (`EpochCheckpoint`), from which `--resume` goes on.
"""

import json
import math
import os
import pathlib
import shutil
import tempfile
from collections.abc import Callable

# The files that say "a run lives here".
RUN_FILES = ("model.keras", "train.json", "results.json", "table.md")
# The folder that says "a run was interrupted here".
CHECKPOINTS = "checkpoints"
_SETTINGS = "settings.json"


def prepare_output_folder(
    folder: str | os.PathLike, overwrite: bool = False, resume: bool = False
) -> pathlib.Path:
    """Creates `folder` if needed and checks it can take a new run.

    With `overwrite`, an interrupted run's checkpoints are deleted (the run
    files are replaced when the new run saves). With `resume`, the folder
    must hold an interrupted run's `checkpoints/`.

    Raises:
        ValueError: `folder` is a file or lies under one, cannot be created
            or written, already holds a run or an interrupted one and neither
            `overwrite` nor `resume` says what to do with it, or `resume`
            finds nothing to resume.
    """
    if overwrite and resume:
        raise ValueError("--overwrite and --resume exclude each other.")
    path = pathlib.Path(folder)
    if path.exists() and not path.is_dir():
        raise ValueError(f"--output {path} is a file, not a folder.")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ValueError(
            f"--output {path}: cannot create the folder ({error.strerror or error})."
        ) from None
    interrupted = (path / CHECKPOINTS).is_dir()
    existing = [name for name in RUN_FILES if (path / name).exists()]
    if resume and not interrupted:
        raise ValueError(
            f"--resume: {path} holds no interrupted run (no {CHECKPOINTS}/ folder)."
        )
    if interrupted and not (resume or overwrite):
        raise ValueError(
            f"--output {path} holds an interrupted run ({CHECKPOINTS}/). Pass "
            "--resume to continue it, --overwrite to start again, or choose "
            "another folder."
        )
    if existing and not (overwrite or resume):
        raise ValueError(
            f"--output {path} already holds a run ({', '.join(existing)}). Pass "
            "--overwrite to replace it, or choose another folder."
        )
    if overwrite and interrupted:
        shutil.rmtree(path / CHECKPOINTS)
    try:
        with tempfile.NamedTemporaryFile(dir=path, prefix=".write-check-"):
            pass
    except OSError as error:
        raise ValueError(
            f"--output {path} is not writable ({error.strerror or error})."
        ) from None
    return path


def write_atomically(
    path: str | os.PathLike, write: Callable[[pathlib.Path], object]
) -> pathlib.Path:
    """Calls `write(temporary_path)`, then renames the result to `path`.

    The temporary name sits in the same folder and keeps the suffix, so
    writers that infer the format from it (`model.save`, `savefig`) work.
    """
    path = pathlib.Path(path)
    # The whole suffix: Keras wants "x.weights.h5", not only ".h5".
    suffix = "".join(path.suffixes)
    stem = path.name[: len(path.name) - len(suffix)]
    handle, name = tempfile.mkstemp(
        dir=path.parent, prefix=f".{stem}.partial-", suffix=suffix
    )
    os.close(handle)
    temporary = pathlib.Path(name)
    try:
        temporary.unlink()  # some writers refuse to overwrite
        write(temporary)
        os.replace(temporary, path)
    finally:
        if temporary.exists():
            temporary.unlink()
    return path


def write_text_atomically(path: str | os.PathLike, text: str) -> pathlib.Path:
    """`path.write_text(text)`, atomically."""
    return write_atomically(path, lambda temporary: temporary.write_text(text))


def json_ready(value):
    """A JSON-ready copy: numpy scalars and arrays become Python numbers and
    lists, tuples lists, keys strings, and NaN or infinite floats `None`.

    Example:

    >>> import numpy as np
    >>> json_ready({1: np.float32(0.5), "x": (np.arange(2), float("nan"))})
    {'1': 0.5, 'x': [[0, 1], None]}
    """
    import numpy as np

    if isinstance(value, dict):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (np.floating, np.integer, np.bool_)):
        return json_ready(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_json_atomically(path: str | os.PathLike, record) -> pathlib.Path:
    """`record` as indented JSON (`json_ready`), written atomically."""
    return write_text_atomically(path, json.dumps(json_ready(record), indent=2))


def read_json(path: str | os.PathLike):
    """The JSON value a file holds."""
    return json.loads(pathlib.Path(path).read_text())


def save_model_or_keep_it(model, path: str | os.PathLike) -> pathlib.Path:
    """Saves `model` to `path` atomically; if that fails, saves it elsewhere.

    Raises:
        ValueError: the model could not be written to `path`; the message
            names the temporary folder that holds it instead.
    """
    try:
        return write_atomically(path, model.save)
    except OSError as error:
        folder = pathlib.Path(tempfile.mkdtemp(prefix="keras-sincere-"))
        fallback = folder / "model.keras"
        model.save(fallback)
        raise ValueError(
            f"could not write {path} ({error.strerror or error}); the trained "
            f"model is saved at {fallback}."
        ) from None


def _jsonable(value):
    """Settings as JSON would give them back (tuples become lists)."""
    return json.loads(json.dumps(value, default=float))


def start_or_resume(folder: str | os.PathLike, settings: dict) -> pathlib.Path:
    """The run's `checkpoints/` folder, after checking the settings match.

    A new run records `settings` (the plan, the data, the backend: whatever
    must not change) in `checkpoints/settings.json`. A resumed run's
    settings must equal the recorded ones, or the resumed training would not
    be the interrupted one.

    Raises:
        ValueError: resuming with settings that differ; names each one.
    """
    checkpoints = pathlib.Path(folder) / CHECKPOINTS
    record = checkpoints / _SETTINGS
    settings = _jsonable(settings)
    if record.is_file():
        recorded = read_json(record)
        changed = [
            f"{key}: {recorded.get(key)!r} then, {settings.get(key)!r} now"
            for key in sorted(set(recorded) | set(settings))
            if recorded.get(key) != settings.get(key)
        ]
        if changed:
            raise ValueError(
                "--resume: this command's settings differ from the interrupted "
                f"run's ({'; '.join(changed)}). Pass the same flags, or "
                "--overwrite to start again."
            )
        return checkpoints
    checkpoints.mkdir(exist_ok=True)
    write_text_atomically(record, json.dumps(settings, indent=1))
    return checkpoints


def finish(folder: str | os.PathLike) -> None:
    """Deletes the checkpoints of a run whose files are all saved."""
    shutil.rmtree(pathlib.Path(folder) / CHECKPOINTS, ignore_errors=True)


class EpochCheckpoint:
    """The training state after each finished epoch, in one folder.

    `save` writes the model's weights, optimizer state and augmentation
    random state (`model.save_weights`) to `epoch-N.weights.h5`, then
    `state.json` (epochs done, history) naming that file: the state file is
    the commit point, so an interruption at any moment leaves the last whole
    epoch. `restore` loads it into a new compiled model of the same plan.

    Args:
        folder: where the checkpoint lives (created on the first save).
    """

    def __init__(self, folder: str | os.PathLike):
        self.folder = pathlib.Path(folder)

    @property
    def state_path(self) -> pathlib.Path:
        return self.folder / "state.json"

    def state(self) -> dict:
        """`{"epochs": done, "history": {...}, "weights": file name}`."""
        if not self.state_path.is_file():
            return {"epochs": 0, "history": {}, "weights": None}
        return read_json(self.state_path)

    def save(self, model, epochs: int, history: dict) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        weights = f"epoch-{epochs}.weights.h5"
        write_atomically(self.folder / weights, model.save_weights)
        state = {"epochs": epochs, "history": history, "weights": weights}
        write_text_atomically(self.state_path, json.dumps(_jsonable(state)))
        for old in self.folder.glob("epoch-*.weights.h5"):
            if old.name != weights:
                old.unlink()

    def restore(self, model) -> dict:
        """Loads the last saved epoch into `model` (compiled); its state."""
        state = self.state()
        if state["weights"]:
            if not model.optimizer.built:
                model.optimizer.build(model.trainable_variables)
            model.load_weights(self.folder / state["weights"])
        return state
