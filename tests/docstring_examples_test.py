"""Every `>>>` example in the package's docstrings runs and prints what it says.

As with `python -m doctest`, an example sees its module's names; `keras`,
`np` and `keras_sincere` are in scope too. The examples run on the active
backend, so an example must print backend-independent
values (shapes, lists, rounded floats).
"""

import doctest
import importlib
import pathlib

import keras
import numpy as np
import pytest

import keras_sincere

PACKAGE = pathlib.Path(keras_sincere.__file__).parent
MODULES = sorted(
    ".".join(("keras_sincere", *path.relative_to(PACKAGE).with_suffix("").parts))
    for path in PACKAGE.rglob("*.py")
    if ">>>" in path.read_text()
)


def test_examples_are_found():
    assert "keras_sincere.losses.sincere" in MODULES
    assert "keras_sincere.ops" in MODULES


@pytest.mark.parametrize("module_name", MODULES)
def test_docstring_examples_run(module_name):
    module = importlib.import_module(module_name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    )
    scope = {**vars(module), "keras": keras, "np": np, "keras_sincere": keras_sincere}
    tests = finder.find(module, module_name, globs=scope)
    assert tests, f"{module_name} has `>>>` but no example was collected"
    for test in tests:
        runner.run(test, clear_globs=False)
    summary = runner.summarize(verbose=False)
    assert summary.failed == 0, f"{summary.failed} example(s) failed in {module_name}"
