"""The programs in examples/ and the porting guide (docs/migrating.md) that presents them.

Each example runs in a subprocess from the repository's root, with this checkout first on the path, and
must print exactly what the guide says it prints: the eventlet crawler under ``python -m
threadevent.compat`` (unchanged, on threads) and its port to threadevent. The guide's code examples
run as doctests, and every ``threadevent.X`` name it cites must exist, so that it cannot rot.

The eventlet crawler is genuine eventlet code: with the environment variable ``EVENTLET_PYTHON``
naming an interpreter that has eventlet installed (or eventlet installed here), it is also run on the
real eventlet, and must print the same.
"""

from __future__ import annotations

import ast
import doctest
import importlib
import importlib.util
import keyword
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GUIDE = ROOT / "docs" / "migrating.md"
EXAMPLES = ROOT / "examples"
#: Seconds a run may take: it needs about one (the slow page's Timeout); a broken one hangs for 60.
RUN_TIMEOUT = 120

#: What both crawlers print: the guide shows it too.
CRAWLER_OUTPUT = """\
level 1: /
level 2: /news /shop /about
level 3: /news/1 /news/2 /slow
  /slow: gave up after 1.0 s
level 4: /gone
  /gone: 404 not found
indexer stopped after 6 pages
'native' is on /news /news/2
'shop' is on / /about /news /shop
'the' is on / /about /news /news/2 /shop
'threads' is on /news /news/2
'to' is on / /news
"""


def run(*args: str, python: str = sys.executable) -> subprocess.CompletedProcess[str]:
    """Run ``python *args`` from the repository's root, with this checkout's threadevent first."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.pop("PYTHONWARNINGS", None)
    return subprocess.run(
        [python, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT
    )


def test_the_threadevent_crawler_prints_what_the_guide_shows() -> None:
    done = run("examples/crawler_threadevent.py")
    assert done.returncode == 0, done.stderr
    assert done.stdout == CRAWLER_OUTPUT
    assert done.stderr == ""  # no warning, no traceback from a thread


def test_the_eventlet_crawler_runs_unchanged_under_the_compat_runner() -> None:
    done = run("-m", "threadevent.compat", "examples/crawler_eventlet.py")
    assert done.returncode == 0, done.stderr
    assert done.stdout == CRAWLER_OUTPUT
    assert "Traceback" not in done.stderr, done.stderr


def _eventlet_python() -> str | None:
    named = os.environ.get("EVENTLET_PYTHON")
    if named:
        return named
    return sys.executable if importlib.util.find_spec("eventlet") is not None else None


def test_the_eventlet_crawler_prints_the_same_on_the_real_eventlet() -> None:
    python = _eventlet_python()
    if python is None:
        pytest.skip("eventlet is not installed here; EVENTLET_PYTHON=/path/to/python names one that has it")
    done = run("examples/crawler_eventlet.py", python=python)
    assert done.returncode == 0, done.stderr
    assert done.stdout == CRAWLER_OUTPUT


def _top_level_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_each_crawler_imports_only_its_own_library_and_the_stdlib() -> None:
    eventlet_side = _top_level_imports(EXAMPLES / "crawler_eventlet.py")
    threadevent_side = _top_level_imports(EXAMPLES / "crawler_threadevent.py")
    stdlib = set(sys.stdlib_module_names)
    assert "eventlet" in eventlet_side
    assert eventlet_side - stdlib == {"eventlet"}
    assert "threadevent" in threadevent_side
    assert threadevent_side - stdlib == {"threadevent"}


def test_the_guide_shows_the_crawlers_output() -> None:
    assert f"```\n{CRAWLER_OUTPUT}```" in GUIDE.read_text(encoding="utf-8")


def test_the_guide_maps_every_module_of_eventlet_it_promises() -> None:
    headings = set(re.findall(r"^###+ (.+)$", GUIDE.read_text(encoding="utf-8"), re.MULTILINE))
    cited = {name for heading in headings for name in re.findall(r"`(eventlet[\w.]*)`", heading)}
    promised = ["event", "greenthread", "greenpool", "timeout", "queue", "semaphore", "lock", "pools"]
    promised += ["tpool", "patcher", "green", "convenience", "hubs", "support.greenlets"]
    assert {"eventlet"} | {f"eventlet.{name}" for name in promised} <= cited


def test_the_guide_s_examples_run() -> None:
    failures, tried = doctest.testfile(
        str(GUIDE), module_relative=False, optionflags=doctest.ELLIPSIS, verbose=False, report=True
    )
    assert tried > 0
    assert failures == 0


#: ``threadevent.X.Y`` (not ``examples/crawler_threadevent.py``): a name the guide tells its reader to use.
_CITED = re.compile(r"(?<![\w/])threadevent(?:\.[A-Za-z_]\w*)+")


def _cited_names() -> list[str]:
    """Every ``threadevent.X`` in a code span of the guide (its tables, its prose)."""
    spans = re.findall(r"`([^`\n]+)`", GUIDE.read_text(encoding="utf-8"))
    return sorted({name for span in spans for name in _CITED.findall(span)})


def _resolve(dotted: str) -> object:
    """The object ``dotted`` names: the longest importable module prefix, then attributes."""
    parts = dotted.split(".")
    for split in range(len(parts), 0, -1):
        try:
            found: object = importlib.import_module(".".join(parts[:split]))
        except ModuleNotFoundError:
            continue
        for attribute in parts[split:]:
            found = getattr(found, attribute)
        return found
    raise ModuleNotFoundError(dotted)


def test_the_guide_cites_threadevent_names() -> None:
    assert len(_cited_names()) > 50


@pytest.mark.parametrize("name", _cited_names())
def test_every_threadevent_name_the_guide_cites_exists(name: str) -> None:
    try:
        _resolve(name)
    except (AttributeError, ModuleNotFoundError) as exc:
        pytest.fail(f"docs/migrating.md cites {name}, which does not exist: {exc}")


def _map_rows() -> list[tuple[list[str], list[str]]]:
    """The rows of the guide's tables: (the names cited in the second column, the third's bare names)."""
    rows = []
    for line in GUIDE.read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if not line.startswith("|") or len(cells) < 3:
            continue
        cited = [name for span in re.findall(r"`([^`]+)`", cells[1]) for name in _CITED.findall(span)]
        bare = re.findall(r"`([a-z_]\w*)`", cells[2])  # methods and attributes, not exceptions
        rows.append((cited, [name for name in bare if not keyword.iskeyword(name) and name != "None"]))
    return rows


def _attributes(cls: type) -> set[str]:
    """The names on ``cls`` and, when it can be made without arguments, on an instance of it."""
    names = set(dir(cls))
    try:
        names.update(dir(cls()))
    except TypeError:
        pass
    return names


def test_the_methods_the_map_lists_for_a_class_are_on_it() -> None:
    checked = 0
    for cited, bare in _map_rows():
        if not cited or not bare or not all(isinstance(_resolve(name), type) for name in cited):
            continue
        for name in cited:
            missing = set(bare) - _attributes(_resolve(name))  # type: ignore[arg-type]
            assert not missing, f"docs/migrating.md lists {sorted(missing)} for {name}"
            checked += 1
    assert checked >= 10


def _slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_the_guide_s_links_lead_somewhere() -> None:
    text = GUIDE.read_text(encoding="utf-8")
    anchors = {_slug(heading) for heading in re.findall(r"^#+ (.+)$", text, re.MULTILINE)}
    for target in re.findall(r"\]\(([^)]+)\)", text):
        if target.startswith("#"):
            assert target[1:] in anchors, f"docs/migrating.md links to {target}, which no heading is"
        elif "://" not in target:
            assert (GUIDE.parent / target).resolve().exists(), f"docs/migrating.md links to {target}"
