"""The public API's types reach the caller: ``spawn(square, "x")`` is a type error (``ParamSpec``).

mypy runs as a library here, on ``tests/typecheck_cases.py`` and on one line written for the test, so the
suite itself proves that wrong argument types passed through ``spawn`` and friends are caught.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

mypy_api = pytest.importorskip("mypy.api", reason="mypy comes with the 'test' extra")

ROOT = Path(__file__).resolve().parent.parent


def _mypy(*args: str) -> tuple[str, int]:
    # No cache: a cached run can report the errors of an earlier file of the same module name.
    options = ["--strict", "--no-error-summary", "--cache-dir", os.devnull]
    stdout, stderr, status = mypy_api.run([*options, *args])
    return stdout + stderr, status


def test_right_calls_pass_and_each_wrong_call_is_rejected_with_its_code() -> None:
    output, status = _mypy(str(ROOT / "tests" / "typecheck_cases.py"))
    # Unused "type: ignore" comments are errors under --strict: a wrong call mypy accepted shows here.
    assert status == 0, output


def test_spawn_of_a_str_into_an_int_parameter_is_an_arg_type_error(tmp_path: Path) -> None:
    case = tmp_path / "case.py"
    case.write_text(
        "from threadevent import spawn\n"
        "def square(n: int) -> int:\n"
        "    return n * n\n"
        'spawn(square, "x")\n'
    )
    output, status = _mypy(str(case))
    assert status == 1, output
    expected = f'{case}:4: error: Argument 2 to "spawn" has incompatible type "str"; expected "int"'
    assert f"{expected}  [arg-type]" in output.splitlines(), output
