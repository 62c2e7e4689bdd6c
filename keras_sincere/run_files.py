"""Run folders and files written so that an interruption loses nothing.

Every file the command writes goes to a temporary name in its own folder and
is renamed into place (`os.replace`, atomic on one file system): a run
interrupted while saving leaves either the old file or the new one, never a
truncated one.
"""

import os
import pathlib
import tempfile
from collections.abc import Callable

# The files that say "a run lives here".
RUN_FILES = ("model.keras", "train.json", "results.json", "table.md")


def prepare_output_folder(
    folder: str | os.PathLike, overwrite: bool = False
) -> pathlib.Path:
    """Creates `folder` if needed and checks it can take a new run.

    Raises:
        ValueError: `folder` is a file or lies under one, cannot be created
            or written, or already holds a run and `overwrite` is False.
    """
    path = pathlib.Path(folder)
    if path.exists() and not path.is_dir():
        raise ValueError(f"--output {path} is a file, not a folder.")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ValueError(
            f"--output {path}: cannot create the folder ({error.strerror or error})."
        ) from None
    existing = [name for name in RUN_FILES if (path / name).exists()]
    if existing and not overwrite:
        raise ValueError(
            f"--output {path} already holds a run ({', '.join(existing)}). Pass "
            "--overwrite to replace it, or choose another folder."
        )
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
    handle, name = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.stem}.partial-", suffix=path.suffix
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
