"""Run code written for eventlet on threads, unchanged: an opt-in ``eventlet`` alias, and its runner.

A team moving a codebase off eventlet wants to see it, and its test suite, run on threads before a line
of it changes, and to learn what does not carry over.  ``install()`` makes ``import eventlet`` (and
``eventlet.event``, ``greenthread``, ``greenpool``, ``timeout``, ``queue``, ``semaphore``, ``lock``,
``pools``, ``tpool``, ``patcher``, ``green``, ``convenience``, ``hubs``, ``support``, ``greenlet``,
``debug``) resolve to threadevent's equivalents in this process; ``python -m threadevent.compat [-m module
| script] [args ...]`` runs a program, or a tool such as pytest, with the alias installed::

    python -m threadevent.compat -m pytest tests/
    python -m threadevent.compat server.py --port 8000

What each part of eventlet becomes:

- threadevent's own names (``spawn``, ``Event``, ``GreenPool``, ``Timeout``, ``Queue``, ...) are the
  very same objects under their eventlet names, looked up when first used;
- ``eventlet.green.<name>`` is the plain module ``<name>`` (``eventlet.green.threading`` is
  ``threading``): on threads the standard library is what "green" meant; Python 2 names map to their
  Python 3 modules (``thread`` to ``_thread``, ``httplib`` to ``http.client``, ...), and ``urllib2`` is
  an ``ImportError`` saying what to use;
- ``monkey_patch()`` does nothing (it logs once, at INFO), ``tpool.execute(f)`` calls ``f``, and
  ``hubs.get_hub()`` is a stand-in whose timers run on threadevent's timer thread;
- ``eventlet.debug``'s switches do nothing where what they ask for holds on threads
  (``hub_prevent_multiple_readers(False)``, ``hub_exceptions(True)``, ...), and raise
  ``NotImplementedError`` naming what to use where it cannot (``hub_exceptions(False)``,
  ``hub_blocking_detection(True)``);
- every other module of eventlet's (``wsgi``, ``websocket``, ``backdoor``, ...) still imports, because
  real code imports them in passing; importing one logs a WARNING on logger ``threadevent``.  Its public
  names import too (``from eventlet.wsgi import server``), but any use of one (a call, an attribute,
  a subclass) raises ``NotImplementedError`` naming the module and what to use instead.  Its dunders
  and underscore names are plain ``AttributeError``\\s, so that importlib, pytest and inspect can look
  at it; ``from eventlet.wsgi import *`` imports, and binds nothing.  A name eventlet never had is an
  ``ImportError`` as usual.

What it deliberately does not do: monkey patch anything (``time.sleep``, sockets and stdlib queues
block only their own thread, and ``Timeout``/``kill`` do not reach them: threadevent's ``sleep``,
``Queue`` and ``Lock`` are the checkpoints), or fake the ``greenlet`` package (other libraries test
for it): ``except greenlet.GreenletExit`` becomes ``except threadevent.GreenletExit``, which
``eventlet.greenlet`` and ``eventlet.support.greenlets`` hold.  It refuses to install over the real
eventlet, and importing threadevent (or this module) alone changes nothing in ``sys.modules``.

>>> from threadevent import compat
>>> compat.install()
>>> import eventlet
>>> eventlet.spawn(sum, [1, 2, 3]).wait()
6
>>> from eventlet.green import threading
>>> import threading as stdlib_threading
>>> threading is stdlib_threading
True
>>> compat.uninstall()
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import logging
import os
import runpy
import sys
import threading
from collections.abc import Sequence
from types import ModuleType
from typing import Any, NoReturn

from threadevent._compat_eventlet import forget_notes
from threadevent._compat_tables import (
    ALIASES,
    GREEN_GONE,
    GREEN_RENAMED,
    KNOWN_MODULES,
    NOT_PROVIDED,
    PACKAGES,
    REACHABLE,
    REPLACEMENTS,
)

__all__ = ["EVENTLET_VERSION", "install", "installed", "main", "uninstall"]

logger = logging.getLogger("threadevent")

#: ``eventlet.__version__`` under the alias: the eventlet release whose API it mirrors, marked (as a
#: PEP 440 local version, which sorts just after that release) as threadevent's stand-in.
EVENTLET_VERSION = "0.41.3+threadevent.compat"

# -- the modules --------------------------------------------------------------------------------------


def _resolve(alias: str, target: str) -> Any:
    module_name, _, attribute = target.partition(":")
    module = importlib.import_module(module_name)
    if not attribute:
        return module
    try:
        return getattr(module, attribute)
    except AttributeError:
        raise AttributeError(
            f"{alias} stands for {module_name}.{attribute}, which this version of threadevent lacks"
        ) from None


def _fill_alias(module: ModuleType, name: str) -> None:
    """Make ``module`` the alias ``name``: its names are looked up in threadevent when first used."""
    table = ALIASES[name]
    reachable = REACHABLE.get(name, frozenset())
    namespace = module.__dict__

    def __getattr__(attribute: str) -> Any:
        target = table.get(attribute)
        if target is None and attribute in reachable:
            target = f"{name}.{attribute}"  # a submodule, imported now: the import binds it here
        if target is None:
            message = f"module {name!r} has no attribute {attribute!r}"
            advice = NOT_PROVIDED.get(f"{name}.{attribute}")
            if advice is not None:
                message += f" under threadevent.compat: {advice}"
            raise AttributeError(message, name=attribute)
        value = _resolve(f"{name}.{attribute}", target)
        namespace[attribute] = value  # found once: later look-ups do not come here
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(table) | reachable)

    namespace["__doc__"] = (
        f"eventlet's {name!r} under threadevent.compat: the same names, on threads "
        "(help(threadevent.compat) says what differs)."
    )
    namespace["__all__"] = sorted(table)
    namespace["__getattr__"] = __getattr__
    namespace["__dir__"] = __dir__
    if name == "eventlet":
        namespace["__version__"] = EVENTLET_VERSION


class _NotProvided:
    """A public name of a stand-in module: importing it works, using it raises ``NotImplementedError``.

    So ``from eventlet.wsgi import server`` in a module that never serves still imports, and
    ``server(...)``, ``server.attribute``, subclassing it or ``isinstance(x, server)`` say what to use.
    """

    __slots__ = ("_what",)

    def __init__(self, what: str) -> None:
        self._what = what

    def _refuse(self) -> NoReturn:
        raise NotImplementedError(self._what)

    def __call__(self, *args: Any, **kwargs: Any) -> NoReturn:
        self._refuse()

    def __getattr__(self, attribute: str) -> NoReturn:
        if attribute.startswith("_"):  # what copy, pickle, mock and inspect look for
            raise AttributeError(attribute)
        self._refuse()

    def __mro_entries__(self, bases: tuple[Any, ...]) -> NoReturn:
        self._refuse()

    def __instancecheck__(self, instance: Any) -> NoReturn:
        self._refuse()

    def __subclasscheck__(self, subclass: Any) -> NoReturn:
        self._refuse()

    def __iter__(self) -> NoReturn:
        self._refuse()

    def __getitem__(self, key: Any) -> NoReturn:
        self._refuse()

    def __repr__(self) -> str:
        return f"<not provided: {self._what}>"


def _replacement(name: str) -> str:
    prefix = name
    while prefix not in REPLACEMENTS:
        prefix = prefix.rpartition(".")[0]
    return REPLACEMENTS[prefix]


def _fill_stand_in(module: ModuleType, name: str) -> None:
    """Make ``module`` the stand-in for ``name``, an eventlet module threadevent does not provide."""
    missing = f"{name} is not provided by threadevent.compat; instead: {_replacement(name)}"

    def __getattr__(attribute: str) -> Any:
        if attribute.startswith("_"):  # what importlib, pytest, inspect and ``import *`` look for
            raise AttributeError(
                f"module {name!r} has no attribute {attribute!r} ({missing})", name=attribute
            )
        return _NotProvided(f"{name}.{attribute}: {missing}")

    module.__dict__["__doc__"] = f"A stand-in: {missing}."
    module.__dict__["__getattr__"] = __getattr__
    logger.warning("%s (it imports, but using any name in it raises NotImplementedError)", missing)


def _green_module(fullname: str) -> ModuleType:
    """The plain module that ``eventlet.green.<name>`` stands for."""
    first, dot, rest = fullname[len("eventlet.green.") :].partition(".")
    if first in GREEN_GONE:
        raise ImportError(
            f"{fullname}: Python 3 has no {first} module; use {GREEN_GONE[first]}", name=fullname
        )
    target = GREEN_RENAMED.get(first, first) + dot + rest
    try:
        return importlib.import_module(target)
    except ImportError as exc:
        # A plain ImportError, not ModuleNotFoundError: ``from eventlet.green import x`` shows this message.
        raise ImportError(
            f"{fullname} is the module {target} under threadevent.compat: {exc}", name=fullname
        ) from exc


def _kind(fullname: str) -> str | None:
    """What ``fullname`` is under the alias: "alias", "green", "stand-in", or None (no such module)."""
    if fullname in ALIASES:
        return "alias"
    if fullname.startswith("eventlet.green."):
        return "green"
    parent, _, child = fullname.rpartition(".")
    if parent in ALIASES:
        # Only eventlet's own module names: ``from eventlet import no_such_name`` tries to import
        # ``eventlet.no_such_name``, and must fail as it does for eventlet.
        return "stand-in" if child in KNOWN_MODULES.get(parent, ()) else None
    return "stand-in" if parent.startswith("eventlet") else None  # a stand-in's submodule


class _Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds and loads every ``eventlet`` module while the alias is installed (first on ``sys.meta_path``)."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != "eventlet" and not fullname.startswith("eventlet."):
            return None
        kind = _kind(fullname)
        if kind is None:
            return None
        # Stand-ins are packages too, so that their submodules (eventlet.zipkin.api, ...) import.
        package = fullname in PACKAGES or kind == "stand-in"
        return importlib.machinery.ModuleSpec(fullname, self, origin="threadevent.compat", is_package=package)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return None  # the default: a plain module

    def exec_module(self, module: ModuleType) -> None:
        name = module.__name__
        kind = _kind(name)
        if kind == "green":
            # The import system returns whatever sys.modules holds once this returns: the module itself,
            # which keeps its own name and spec.
            sys.modules[name] = _green_module(name)
        elif kind == "alias":
            _fill_alias(module, name)
        else:
            _fill_stand_in(module, name)

    def __repr__(self) -> str:
        return "<threadevent.compat eventlet finder>"


_FINDER = _Finder()
_install_lock = threading.Lock()


def _is_alias(module: ModuleType) -> bool:
    return getattr(getattr(module, "__spec__", None), "loader", None) is _FINDER


def install() -> None:
    """Make ``import eventlet`` and its submodules resolve to threadevent in this process.

    Idempotent.  Raises ``RuntimeError`` if the real eventlet is imported already (the two cannot be
    mixed: run the program under ``python -m threadevent.compat``).  Modules are made when first
    imported, and their names looked up in threadevent when first used.
    """
    with _install_lock:
        current = sys.modules.get("eventlet")
        if current is not None and not _is_alias(current):
            raise RuntimeError(
                "threadevent.compat.install(): the real eventlet is imported already "
                f"({current!r}); install the alias before anything imports eventlet, e.g. run the "
                "program with python -m threadevent.compat"
            )
        if _FINDER not in sys.meta_path:
            sys.meta_path.insert(0, _FINDER)


def installed() -> bool:
    """Whether the alias is installed."""
    return _FINDER in sys.meta_path


def uninstall() -> None:
    """Undo ``install()``: the alias's modules leave ``sys.modules``, and eventlet is not found any more.

    Objects taken from the alias stay usable (they are threadevent's).  A no-op when not installed; the
    real eventlet's modules, if something imported them meanwhile, are left alone.
    """
    with _install_lock:
        if _FINDER in sys.meta_path:
            sys.meta_path.remove(_FINDER)
        current = sys.modules.get("eventlet")
        if current is None or _is_alias(current):
            for name in [name for name in sys.modules if name == "eventlet" or name.startswith("eventlet.")]:
                del sys.modules[name]
        forget_notes()


# -- the runner ---------------------------------------------------------------------------------------

USAGE = """\
usage: python -m threadevent.compat [-m module | script] [args ...]

Run a program written for eventlet on threads: `import eventlet` and its submodules resolve to
threadevent's equivalents in this process; nothing is monkey patched.

  -m module   run a library module as a script, as `python -m module` does (e.g. -m pytest tests/)
  script      run a Python file, as `python script` does
  args        handed on in sys.argv
  -h, --help  show this help
"""


def _fail(message: str, status: int = 2) -> int:
    sys.stderr.write(f"python -m threadevent.compat: {message}\n")
    return status


def _run_module(module: str, args: list[str]) -> int:
    if not module:
        return _fail("-m needs a module name\n" + USAGE)
    install()
    if importlib.util.find_spec(module) is None:
        return _fail(f"No module named {module}", 1)
    sys.argv = [module, *args]  # runpy puts the module's file in argv[0], as python -m does
    runpy.run_module(module, run_name="__main__", alter_sys=True)
    return 0


def _run_script(script: str, args: list[str]) -> int:
    if not os.path.exists(script):
        return _fail(f"can't open file {script!r}: no such file or directory")
    install()
    sys.argv = [script, *args]
    # As `python script` does: the script's directory comes first on sys.path, where -m put the cwd.
    directory = os.path.dirname(os.path.abspath(script))
    if sys.path:
        sys.path[0] = directory
    else:
        sys.path.append(directory)
    runpy.run_path(script, run_name="__main__")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m threadevent.compat [-m module | script] [args ...]``: the exit status.

    The program's own ``SystemExit`` (``sys.exit(3)``, pytest's result) propagates; without one the
    status is 0, and an uncaught exception ends the process as it would under ``python``.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    if not args:
        sys.stderr.write(USAGE)
        return 2
    first = args[0]
    if first in ("-h", "--help"):
        sys.stdout.write(USAGE)
        return 0
    if first.startswith("-m"):
        if first == "-m":
            return _run_module(args[1] if len(args) > 1 else "", args[2:])
        return _run_module(first[2:], args[1:])  # -mpytest, as python accepts it
    if first.startswith("-"):
        return _fail(f"unknown option {first!r}\n" + USAGE)
    return _run_script(first, args[1:])


if __name__ == "__main__":
    # Run as ``python -m threadevent.compat``, this file is ``__main__``, a second copy of the module:
    # the alias must be the one that ``import threadevent.compat`` gives, so that is the one used.
    from threadevent.compat import main as _main

    sys.exit(_main())
