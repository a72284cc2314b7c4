"""The wheel, as built from this checkout: the library, its type marker and its licence, and nothing else.

The build runs on a copy of the files it needs (so that no ``build/`` or ``*.egg-info`` of the checkout
can leak in, nor be left behind), with the ``setuptools`` of this environment, which the ``test`` extra
brings in: ``pip wheel --no-build-isolation``, with nothing downloaded.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: What the build reads, and the directories it must leave out of the wheel.
SOURCES = ["pyproject.toml", "README.md", "LICENSE", "CHANGELOG.md", "threadevent", "stress", "tests"]
#: The oldest setuptools that understands PEP 639's ``license = "MIT"`` (pyproject.toml requires it too).
SETUPTOOLS = (77, 0)


def _setuptools() -> tuple[int, ...] | None:
    try:
        version = metadata.version("setuptools")
    except metadata.PackageNotFoundError:
        return None
    return tuple(int(part) for part in re.findall(r"\d+", version)[:2])


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[zipfile.ZipFile, str]:
    """The wheel built from a copy of the checkout, and the build's output."""
    found = _setuptools()
    if found is None or found < SETUPTOOLS:
        pytest.skip(
            f"building the wheel needs setuptools>={SETUPTOOLS[0]} in this environment "
            f"(found {'none' if found is None else '.'.join(map(str, found))}): "
            "python -m pip install -e '.[test]' brings it"
        )
    src = tmp_path_factory.mktemp("src")
    for name in SOURCES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(path, src / name)
    out = tmp_path_factory.mktemp("wheel")
    command = [sys.executable, "-m", "pip", "wheel", "-v", "--no-deps", "--no-build-isolation"]
    command += ["--no-index", "--disable-pip-version-check", "-w", str(out), str(src)]
    # With PYTHONDONTWRITEBYTECODE set, distutils says "warning: byte-compiling is disabled": the
    # environment's doing, not the project's, and it would hide the warnings this build must not have.
    env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    (wheel,) = out.glob("threadevent-*.whl")
    return zipfile.ZipFile(wheel), done.stdout + done.stderr


def test_the_wheel_carries_the_library_its_type_marker_and_its_licence(
    built: tuple[zipfile.ZipFile, str],
) -> None:
    wheel, _ = built
    names = wheel.namelist()
    assert "threadevent/__init__.py" in names
    assert "threadevent/py.typed" in names
    licences = [name for name in names if name.endswith(".dist-info/licenses/LICENSE")]
    assert len(licences) == 1, names
    assert "MIT License" in wheel.read(licences[0]).decode()


def test_the_wheel_carries_no_tests_and_no_stress_suite(built: tuple[zipfile.ZipFile, str]) -> None:
    wheel, _ = built
    names = wheel.namelist()
    tops = {name.split("/")[0] for name in names}
    assert {top for top in tops if not top.endswith(".dist-info")} == {"threadevent"}, sorted(tops)
    assert not [name for name in names if re.search(r"(^|/)(tests?|stress)(/|$)|(^|/)test_[^/]*\.py$", name)]
    assert not [name for name in names if name.endswith("conftest.py")]


def test_the_metadata_has_the_pep_639_licence_and_the_pythons(built: tuple[zipfile.ZipFile, str]) -> None:
    wheel, _ = built
    (meta,) = [name for name in wheel.namelist() if name.endswith(".dist-info/METADATA")]
    text = wheel.read(meta).decode()
    assert "License-Expression: MIT" in text
    assert "License-File: LICENSE" in text
    assert not re.search(r"^Classifier: License ::", text, re.MULTILINE)  # PEP 639: the expression only
    for minor in range(10, 16):
        assert f"Classifier: Programming Language :: Python :: 3.{minor}" in text
    assert "Project-URL: Changelog, " in text


def test_the_build_warns_of_nothing(built: tuple[zipfile.ZipFile, str]) -> None:
    _, output = built
    warnings = [line for line in output.splitlines() if re.search(r"warn", line, re.IGNORECASE)]
    assert not warnings, "\n".join(warnings)
