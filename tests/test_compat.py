"""Tests for threadevent.compat: the opt-in ``eventlet`` alias, and ``python -m threadevent.compat``.

Every test that installs the alias does so through the ``eventlet`` fixture, which uninstalls it again and
checks that ``sys.modules`` and ``sys.meta_path`` are as they were.  The end-to-end tests run a small
eventlet-style program and test suite (``tests/compat_project/``, which threadevent's own test run does
not collect) in a subprocess, under ``python -m threadevent.compat``.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import logging
import os
import shutil
import socket
import ssl
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from conftest import PATIENCE, parked, wait_until

import threadevent
from threadevent import compat

#: Where the threadevent under test lives: the subprocesses must import this copy, whatever is installed.
ROOT = Path(threadevent.__file__).resolve().parent.parent
PROJECT = Path(__file__).resolve().parent / "compat_project"


def eventlet_modules() -> list[str]:
    return sorted(name for name in sys.modules if name == "eventlet" or name.startswith("eventlet."))


@pytest.fixture
def eventlet() -> Iterator[Any]:
    """The alias, installed for one test; afterwards sys.modules and sys.meta_path are as they were."""
    compat.uninstall()  # a failed doctest or test elsewhere must not leave it behind for this one
    meta_path = list(sys.meta_path)
    assert eventlet_modules() == []
    compat.install()
    try:
        yield importlib.import_module("eventlet")
    finally:
        compat.uninstall()
    assert sys.meta_path == meta_path
    assert eventlet_modules() == []


def run_compat(
    *args: str, cwd: Path | str, timeout: float = 4 * PATIENCE
) -> subprocess.CompletedProcess[str]:
    """``python -m threadevent.compat ARGS`` in a subprocess that imports the threadevent under test."""
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-m", "threadevent.compat", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


# -- installing and uninstalling ------------------------------------------------------------------------


def test_importing_threadevent_alone_touches_neither_sys_modules_nor_the_import_system() -> None:
    code = (
        "import sys\n"
        "meta = list(sys.meta_path)\n"
        "import threadevent, threadevent.compat\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('eventlet', 'greenlet')))\n"
        "print(sys.meta_path == meta, threadevent.compat.installed())\n"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=PATIENCE, check=True
    )
    assert out.stdout.split("\n")[:2] == ["[]", "True False"]


def test_install_puts_the_alias_in_place_and_uninstall_takes_it_away() -> None:
    compat.uninstall()
    with pytest.raises(ImportError):
        importlib.import_module("eventlet")
    compat.install()
    try:
        assert compat.installed()
        eventlet = importlib.import_module("eventlet")
        spawn = eventlet.spawn
        importlib.import_module("eventlet.green.threading")
        importlib.import_module("eventlet.queue")
    finally:
        compat.uninstall()
    assert not compat.installed()
    assert eventlet_modules() == []
    with pytest.raises(ImportError):
        importlib.import_module("eventlet")
    assert spawn(lambda: "still works").wait() == "still works"  # what was taken from it stays usable


def test_install_is_idempotent(eventlet: Any) -> None:
    compat.install()
    compat.install()
    assert sum(type(finder).__module__ == "threadevent.compat" for finder in sys.meta_path) == 1
    assert importlib.import_module("eventlet") is eventlet


def test_uninstall_without_install_does_nothing() -> None:
    compat.uninstall()
    meta_path = list(sys.meta_path)
    compat.uninstall()
    assert sys.meta_path == meta_path


def test_install_refuses_when_the_real_eventlet_is_imported(monkeypatch: pytest.MonkeyPatch) -> None:
    compat.uninstall()
    monkeypatch.setitem(sys.modules, "eventlet", ModuleType("eventlet"))
    meta_path = list(sys.meta_path)
    with pytest.raises(
        RuntimeError, match=r"real eventlet is imported already.*python -m threadevent\.compat"
    ):
        compat.install()
    assert sys.meta_path == meta_path
    assert not compat.installed()
    compat.uninstall()  # leaves the real one alone
    assert isinstance(sys.modules["eventlet"], ModuleType)


def test_the_alias_comes_before_a_real_eventlet_on_the_path(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "eventlet").mkdir()
    (tmp_path / "eventlet" / "__init__.py").write_text("REAL = True\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    compat.install()
    try:
        eventlet = importlib.import_module("eventlet")
        assert eventlet.__spec__.origin == "threadevent.compat"
        assert not hasattr(eventlet, "REAL")
    finally:
        compat.uninstall()
    assert eventlet_modules() == []


def test_the_greenlet_package_is_never_faked(eventlet: Any) -> None:
    before = importlib.util.find_spec("greenlet")
    importlib.import_module("eventlet.greenlet")
    importlib.import_module("eventlet.support.greenlets")
    after = importlib.util.find_spec("greenlet")
    assert (before is None) == (after is None)
    if after is not None:
        assert after.origin == before.origin  # type: ignore[union-attr]
    assert type(sys.modules.get("greenlet")).__module__ != "threadevent.compat"


# -- the top-level names ------------------------------------------------------------------------------

TOP_LEVEL = [
    "BoundedSemaphore", "CappedSemaphore", "Event", "GreenPile", "GreenPool", "LightQueue", "Queue",
    "Semaphore", "Timeout", "getcurrent", "is_timeout", "kill", "sleep", "spawn", "spawn_after", "spawn_n",
    "with_timeout", "wrap_is_timeout",
]  # fmt: skip


@pytest.mark.parametrize("name", TOP_LEVEL)
def test_each_top_level_name_is_threadevents_own(eventlet: Any, name: str) -> None:
    assert getattr(eventlet, name) is getattr(threadevent, name)
    assert name in dir(eventlet)


def test_the_other_top_level_names(eventlet: Any) -> None:
    from eventlet import convenience, patcher

    assert eventlet.TimeoutError is threadevent.Timeout  # eventlet's deprecated name
    assert eventlet.monkey_patch is patcher.monkey_patch
    assert eventlet.import_patched is patcher.import_patched
    for name in ("connect", "listen", "serve", "StopServe", "wrap_ssl"):
        assert getattr(eventlet, name) is getattr(convenience, name)
    assert issubclass(eventlet.EventletDeprecationWarning, Warning)
    assert eventlet.greenlet.GreenletExit is threadevent.GreenletExit
    assert eventlet.greenlet.getcurrent is threadevent.getcurrent


def test_star_import_gives_the_top_level_names(eventlet: Any) -> None:
    namespace: dict[str, Any] = {}
    exec("from eventlet import *", namespace)
    assert namespace["spawn"] is threadevent.spawn
    assert namespace["GreenPool"] is threadevent.GreenPool
    assert namespace["queue"] is sys.modules["eventlet.queue"]


def test_version_names_threadevent_and_sorts_as_a_recent_eventlet(eventlet: Any) -> None:
    version = eventlet.__version__
    release, _, local = version.partition("+")
    assert local == "threadevent.compat"
    assert tuple(int(part) for part in release.split(".")) >= (0, 40, 0)
    assert version == compat.EVENTLET_VERSION


def test_submodules_are_reached_as_attributes_without_an_import(eventlet: Any) -> None:
    assert eventlet.queue.Queue is threadevent.Queue
    assert eventlet.greenthread.spawn is threadevent.spawn
    assert eventlet.support.greenlets.GreenletExit is threadevent.GreenletExit
    assert eventlet.event is sys.modules["eventlet.event"]


def test_modules_that_import_eventlet_makes_reachable_are_reached_as_attributes_too(
    eventlet: Any, caplog: pytest.LogCaptureFixture
) -> None:
    # eventlet's own imports make these attributes: oslo.service writes eventlet.greenio.GreenPipe
    # after a bare ``import eventlet``.  Reaching a stand-in so imports it (with its warning) only then.
    import socket as stdlib_socket

    assert eventlet.green.socket is stdlib_socket
    assert eventlet.green.time is sys.modules["time"]
    assert "eventlet.greenio" not in sys.modules
    with caplog.at_level(logging.WARNING, logger="threadevent"):
        greenio = eventlet.greenio
    assert greenio is sys.modules["eventlet.greenio"]
    assert "eventlet.greenio is not provided" in caplog.text
    with pytest.raises(NotImplementedError, match=r"eventlet\.greenio\.GreenPipe.*os\.fdopen"):
        eventlet.greenio.GreenPipe(0, "r")  # a pipe: the message names what replaces it too
    assert eventlet.hubs.hub is sys.modules["eventlet.hubs.hub"]
    assert eventlet.support.greendns is sys.modules["eventlet.support.greendns"]
    assert "greenio" not in eventlet.__all__  # a star import does not import the stand-ins
    with pytest.raises(AttributeError):
        eventlet.green.no_such_module  # noqa: B018


def test_a_name_eventlet_has_but_the_alias_leaves_out_says_what_to_use(eventlet: Any) -> None:
    with pytest.raises(AttributeError, match=r"exc_after.*Timeout\(seconds, exception\)"):
        eventlet.exc_after  # noqa: B018
    with pytest.raises(AttributeError, match="no attribute 'no_such_name'"):
        eventlet.no_such_name  # noqa: B018
    assert not hasattr(eventlet, "no_such_name")
    assert not hasattr(eventlet.greenthread, "call_after_global")


# -- the alias modules, a call through each ------------------------------------------------------------


def test_event(eventlet: Any) -> None:
    from eventlet import event

    evt = event.Event()
    eventlet.spawn(evt.send, "sent")
    assert evt.wait(PATIENCE) == "sent"


def test_greenthread(eventlet: Any) -> None:
    from eventlet import greenthread

    gt = greenthread.spawn(greenthread.getcurrent)
    assert gt.wait() is gt
    assert isinstance(gt, greenthread.GreenThread)
    blocked = greenthread.spawn(threadevent.Event().wait)
    greenthread.kill(blocked)
    with pytest.raises(greenthread.greenlet.GreenletExit):  # eventlet code reaches it this way
        blocked.wait()


def test_greenthread_cancel_stops_a_greenthread_that_has_not_started(eventlet: Any) -> None:
    from eventlet import greenthread

    gt = greenthread.spawn_after(PATIENCE, lambda: "never")
    assert greenthread.cancel(gt) is None
    with pytest.raises(threadevent.GreenletExit):
        gt.wait()


def test_greenthread_spawn_after_local(eventlet: Any) -> None:
    from eventlet import greenthread

    assert greenthread.spawn_after_local is threadevent.spawn_after_local
    assert greenthread.spawn_after_local(0, lambda: "ran").wait() == "ran"


def test_getcurrent_outside_a_greenthread_is_a_stand_in(eventlet: Any) -> None:
    assert eventlet.getcurrent() is not None


def test_greenpool(eventlet: Any) -> None:
    from eventlet import greenpool

    pool = greenpool.GreenPool(3)
    assert list(pool.imap(lambda x: x * 2, range(5))) == [0, 2, 4, 6, 8]
    pile = greenpool.GreenPile(pool)
    pile.spawn(lambda: "piled")
    assert list(pile) == ["piled"]


def test_timeout(eventlet: Any) -> None:
    from eventlet import timeout

    with pytest.raises(timeout.Timeout):
        with timeout.Timeout(0.01):
            eventlet.sleep(PATIENCE)
    assert timeout.with_timeout(0.01, eventlet.sleep, PATIENCE, timeout_value="late") == "late"


def test_timeout_is_timeout_and_wrap_is_timeout(eventlet: Any) -> None:
    from eventlet import timeout

    assert timeout.is_timeout(timeout.Timeout())
    assert not timeout.is_timeout(ValueError())
    wrapped = timeout.wrap_is_timeout(OSError)
    assert timeout.is_timeout(wrapped())


def test_queue(eventlet: Any) -> None:
    from eventlet import queue

    q = queue.Queue()
    eventlet.spawn(q.put, "item")
    assert q.get(timeout=PATIENCE) == "item"
    with pytest.raises(queue.Empty):
        q.get_nowait()
    assert queue.LightQueue is threadevent.LightQueue
    assert queue.PriorityQueue is threadevent.PriorityQueue
    assert queue.LifoQueue is threadevent.LifoQueue
    assert queue.Full is threadevent.Full


def test_semaphore_and_lock(eventlet: Any) -> None:
    from eventlet import lock, semaphore

    sem = semaphore.Semaphore(1)
    with sem:
        assert not sem.acquire(blocking=False)
    assert semaphore.BoundedSemaphore is threadevent.BoundedSemaphore
    assert semaphore.CappedSemaphore is threadevent.CappedSemaphore
    guard = lock.Lock()
    with guard:
        assert guard.locked()


def test_pools(eventlet: Any) -> None:
    from eventlet import pools

    made = iter(range(10))
    pool = pools.Pool(max_size=2, create=lambda: next(made))
    with pool.item() as item:
        assert item == 0
    assert isinstance(pools.TokenPool(max_size=1).get(), pools.Token)


def test_tpool_calls_in_the_caller(eventlet: Any) -> None:
    from eventlet import tpool

    assert tpool.execute(threading.get_ident) == threading.get_ident()
    assert tpool.execute(divmod, 7, 2) == (3, 1)
    assert tpool.execute(dict, a=1) == {"a": 1}
    with pytest.raises(ZeroDivisionError):
        tpool.execute(divmod, 1, 0)
    with pytest.raises(TypeError, match="callable meth"):
        tpool.execute("not callable")
    thing = object()
    assert tpool.Proxy(thing) is thing
    assert tpool.Proxy(thing, autowrap=(int,), autowrap_names=("x",)) is thing
    assert not isinstance(thing, tpool.Proxy)
    assert tpool.setup() is None
    assert tpool.killall() is None
    assert tpool.set_num_threads(4) is None


def test_patcher(eventlet: Any, caplog: pytest.LogCaptureFixture) -> None:
    from eventlet import patcher

    with caplog.at_level(logging.INFO, logger="threadevent"):
        eventlet.monkey_patch()
        patcher.monkey_patch(socket=True, thread=False)
    notes = [r for r in caplog.records if "monkey_patch" in r.getMessage()]
    assert len(notes) == 1
    assert notes[0].levelno == logging.INFO
    assert "does nothing" in notes[0].getMessage()
    with pytest.raises(TypeError, match="unexpected keyword argument 'sockets'"):
        patcher.monkey_patch(sockets=True)
    assert patcher.is_monkey_patched("socket") is False
    assert patcher.is_monkey_patched(socket) is False
    assert patcher.original("socket") is socket
    assert patcher.original("threading") is threading
    assert patcher.import_patched("json") is importlib.import_module("json")
    assert patcher.patch_function(len) is len
    with pytest.raises(TypeError, match="modname must be a module name"):
        patcher.original(socket)


def test_monkey_patch_logs_again_after_a_reinstall(caplog: pytest.LogCaptureFixture) -> None:
    for _ in range(2):
        compat.install()
        try:
            with caplog.at_level(logging.INFO, logger="threadevent"):
                importlib.import_module("eventlet").monkey_patch()
        finally:
            compat.uninstall()
    assert len([r for r in caplog.records if "monkey_patch" in r.getMessage()]) == 2


def test_support(eventlet: Any) -> None:
    from eventlet import support
    from eventlet.support import greenlets

    assert support.greenlets is greenlets
    assert greenlets.GreenletExit is threadevent.GreenletExit
    assert greenlets.getcurrent is threadevent.getcurrent
    assert support.get_errno(OSError(32, "broken pipe")) == 32
    assert support.get_errno(ValueError(7)) == 7
    assert support.get_errno(ValueError()) is None


def test_except_greenlet_exit_through_the_namespaces_catches_a_kill(eventlet: Any) -> None:
    from eventlet import greenlet as greenlet_namespace

    started, caught = threadevent.Event[None](), threadevent.Event[str]()

    def victim() -> None:
        try:
            started.send(None)
            threadevent.Event().wait()
        except greenlet_namespace.GreenletExit:
            caught.send("caught")
            raise

    gt = eventlet.spawn(victim)
    started.wait(PATIENCE)
    gt.kill()
    assert caught.wait(PATIENCE) == "caught"


# -- eventlet.green -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["threading", "socket", "time", "select", "subprocess", "os", "ssl"])
def test_green_modules_are_the_plain_modules(eventlet: Any, name: str) -> None:
    green = importlib.import_module(f"eventlet.green.{name}")
    assert green is importlib.import_module(name)
    assert green.__name__ == name
    assert green.__spec__.name == name  # the module's own spec is left alone


def test_from_eventlet_green_import(eventlet: Any) -> None:
    from eventlet.green import socket as green_socket
    from eventlet.green import threading as green_threading

    assert green_threading is threading
    assert green_socket is socket


def test_green_python_2_names_are_their_python_3_modules(eventlet: Any) -> None:
    import _thread
    import builtins
    import http.client
    import http.server
    import queue
    import socketserver

    from eventlet.green import BaseHTTPServer, Queue, SocketServer, builtin, httplib, thread

    assert (thread, builtin, Queue) == (_thread, builtins, queue)
    assert (httplib, BaseHTTPServer, SocketServer) == (http.client, http.server, socketserver)


def test_green_subpackages(eventlet: Any) -> None:
    import http.client
    import urllib.request

    import eventlet.green.http.client
    from eventlet.green.urllib import request

    assert eventlet.green.http.client is http.client
    assert request is urllib.request


def test_green_urllib2_is_an_import_error_naming_its_replacement(eventlet: Any) -> None:
    with pytest.raises(
        ImportError, match=r"eventlet\.green\.urllib2: Python 3 has no urllib2.*urllib\.request"
    ):
        from eventlet.green import urllib2  # noqa: F401
    assert "eventlet.green.urllib2" not in sys.modules


def test_green_module_that_does_not_exist_is_an_import_error_naming_it(eventlet: Any) -> None:
    with pytest.raises(ImportError, match=r"eventlet\.green\.no_such_module is the module no_such_module"):
        from eventlet.green import no_such_module  # noqa: F401


# -- eventlet.convenience --------------------------------------------------------------------------------


def client(addr: Any) -> socket.socket:
    from eventlet import convenience

    sock = convenience.connect(addr)
    sock.settimeout(PATIENCE)
    return sock


def test_listen_and_connect(eventlet: Any) -> None:
    from eventlet import convenience

    with convenience.listen(("127.0.0.1", 0)) as server:
        assert server.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR) != 0
        with client(server.getsockname()) as sock:
            conn, _ = server.accept()
            with conn:
                sock.sendall(b"ping")
                assert conn.recv(10) == b"ping"


def test_listen_on_a_random_port_with_reuse_port_warns(eventlet: Any) -> None:
    from eventlet import convenience

    with pytest.warns(convenience.ReuseRandomPortWarning):
        convenience.listen(("127.0.0.1", 0), reuse_port=True).close()


class RefusesReusePort(socket.socket):
    """A socket whose kernel refuses SO_REUSEPORT with ``errno``, as Linux 6 does for a Unix socket."""

    errno = 95  # EOPNOTSUPP

    def setsockopt(self, level: int, option: int, value: Any, *rest: Any) -> None:
        if option == getattr(socket, "SO_REUSEPORT", None):
            raise OSError(self.errno, os.strerror(self.errno))
        super().setsockopt(level, option, value, *rest)


@pytest.mark.skipif(not hasattr(socket, "SO_REUSEPORT"), reason="no SO_REUSEPORT here")
def test_listen_goes_on_when_the_kernel_refuses_reuse_port(
    eventlet: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # As eventlet's listen: SO_REUSEPORT is best effort.  oslo.service listens on a Unix socket with
    # the default reuse_port, which Linux refuses there.
    import warnings

    from eventlet import convenience

    monkeypatch.setattr(socket, "socket", RefusesReusePort)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # eventlet warns only for EINVAL and ENOPROTOOPT
        warnings.simplefilter("ignore", convenience.ReuseRandomPortWarning)
        with convenience.listen(("127.0.0.1", 0), reuse_port=True) as server:
            assert server.getsockname()[1] != 0
    monkeypatch.setattr(RefusesReusePort, "errno", 22)
    with pytest.warns(convenience.ReusePortUnavailableWarning):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", convenience.ReuseRandomPortWarning)
            convenience.listen(("127.0.0.1", 0), reuse_port=True).close()
    monkeypatch.undo()
    if hasattr(socket, "AF_UNIX"):
        path = str(tmp_path / "server.sock")
        with convenience.listen(path, family=socket.AF_UNIX) as server:
            assert server.getsockname() == path


def test_connect_binds_first_when_asked(eventlet: Any) -> None:
    from eventlet import convenience

    with convenience.listen(("127.0.0.1", 0)) as server:
        with convenience.connect(server.getsockname(), bind=("127.0.0.1", 0)) as sock:
            assert sock.getsockname()[0] == "127.0.0.1"


def test_serve_echoes_closes_each_connection_and_returns_on_stopserve(eventlet: Any) -> None:
    from eventlet import convenience

    def handle(conn: socket.socket, addr: Any) -> None:
        data = conn.recv(100)
        if data == b"stop":
            raise convenience.StopServe()
        conn.sendall(data.upper())

    with convenience.listen(("127.0.0.1", 0)) as server:
        addr = server.getsockname()
        gt = eventlet.spawn(convenience.serve, server, handle)
        with client(addr) as sock:
            sock.sendall(b"hello")
            assert sock.recv(100) == b"HELLO"
            assert sock.recv(100) == b""  # closed once its handler returned
        with client(addr) as sock:
            sock.sendall(b"stop")
        assert gt.wait() is None


def test_serve_raises_what_a_handler_raised(eventlet: Any) -> None:
    from eventlet import convenience

    def handle(conn: socket.socket, addr: Any) -> None:
        raise KeyError("from the handler")

    with convenience.listen(("127.0.0.1", 0)) as server:
        gt = eventlet.spawn(convenience.serve, server, handle)
        with client(server.getsockname()):
            with pytest.raises(KeyError, match="from the handler"):
                gt.wait()


def test_serve_runs_at_most_concurrency_handlers_at_once(eventlet: Any) -> None:
    from eventlet import convenience

    lock = threading.Lock()
    running = [0, 0]  # now, most ever
    release = threadevent.Event[None]()
    started = threadevent.Semaphore(0)

    def handle(conn: socket.socket, addr: Any) -> None:
        with lock:
            running[0] += 1
            running[1] = max(running)
        started.release()
        release.wait(PATIENCE)
        with lock:
            running[0] -= 1
        if conn.recv(10) == b"stop":
            raise convenience.StopServe()

    with convenience.listen(("127.0.0.1", 0)) as server:
        gt = eventlet.spawn(convenience.serve, server, handle, concurrency=2)
        socks = [client(server.getsockname()) for _ in range(4)]
        try:
            # The first two run; the other two wait for a free place, in serve's pool.spawn.
            assert started.acquire(timeout=PATIENCE) and started.acquire(timeout=PATIENCE)
            release.send(None)
            for sock in socks[:-1]:
                sock.sendall(b"x")
            socks[-1].sendall(b"stop")
            assert gt.wait() is None
        finally:
            for sock in socks:
                sock.close()
    assert running[1] == 2


def test_serve_is_ended_by_a_kill(eventlet: Any) -> None:
    from eventlet import convenience

    with convenience.listen(("127.0.0.1", 0)) as server:
        served = threadevent.Event[None]()
        gt = eventlet.spawn(convenience.serve, server, lambda conn, addr: served.send(None))
        client(server.getsockname()).close()
        served.wait(PATIENCE)  # serve runs its loop
        assert gt.kill(timeout=PATIENCE)
        with pytest.raises(threadevent.GreenletExit):
            gt.wait()


def test_a_kill_while_serve_waits_for_a_free_place_closes_the_connection_it_holds(eventlet: Any) -> None:
    from eventlet import convenience

    release = threadevent.Event[None]()
    with convenience.listen(("127.0.0.1", 0)) as server:
        gt = eventlet.spawn(convenience.serve, server, lambda conn, addr: release.wait(PATIENCE), 1)
        first, second = client(server.getsockname()), client(server.getsockname())
        with first, second:
            # The one place is taken: serve accepts the second connection and parks in pool.spawn.
            wait_until(lambda: parked(gt), what="serve to wait for a free place")
            assert gt.kill(timeout=PATIENCE)
            assert second.recv(10) == b""  # closed, not left open with nobody to handle it
            release.send(None)
        with pytest.raises(threadevent.GreenletExit):
            gt.wait()


def test_serve_ends_when_its_socket_is_closed(eventlet: Any) -> None:
    from eventlet import convenience

    server = convenience.listen(("127.0.0.1", 0))
    served = threadevent.Event[None]()
    gt = eventlet.spawn(convenience.serve, server, lambda conn, addr: served.send(None))
    client(server.getsockname()).close()
    served.wait(PATIENCE)  # serve runs its loop
    server.close()
    with pytest.raises(OSError):
        gt.wait()


def test_serve_refuses_a_handler_that_is_not_callable(eventlet: Any) -> None:
    from eventlet import convenience

    with convenience.listen(("127.0.0.1", 0)) as server:
        with pytest.raises(TypeError, match="callable handle"):
            convenience.serve(server, "handler")


def test_wrap_ssl_checks_its_arguments_as_ssl_wrap_socket_did(eventlet: Any) -> None:
    from eventlet import convenience

    a, b = socket.socketpair()
    with a, b:
        with pytest.raises(ValueError, match="certfile must be specified for server-side"):
            convenience.wrap_ssl(a, server_side=True)
        with pytest.raises(ValueError, match="certfile must be specified"):
            convenience.wrap_ssl(a, keyfile="key.pem")
        wrapped = convenience.wrap_ssl(a, do_handshake_on_connect=False)
        assert isinstance(wrapped, ssl.SSLSocket)
        wrapped.close()


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command to make a certificate")
def test_wrap_ssl_client_and_server_talk(eventlet: Any, tmp_path: Path) -> None:
    from eventlet import convenience

    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=PATIENCE,
    )  # fmt: skip

    def handle(conn: socket.socket, addr: Any) -> None:
        with convenience.wrap_ssl(conn, certfile=str(cert), keyfile=str(key), server_side=True) as tls:
            tls.sendall(tls.recv(100).upper())
        raise convenience.StopServe()

    with convenience.listen(("127.0.0.1", 0)) as server:
        gt = eventlet.spawn(convenience.serve, server, handle)
        with convenience.wrap_ssl(client(server.getsockname())) as tls:
            tls.sendall(b"secret")
            assert tls.recv(100) == b"SECRET"
        assert gt.wait() is None


# -- eventlet.hubs -------------------------------------------------------------------------------------


def test_hub_clock_is_monotonic(eventlet: Any) -> None:
    hub = eventlet.hubs.get_hub()
    assert hub is eventlet.hubs.get_hub()
    first = hub.clock()
    assert hub.clock() >= first
    # eventlet's hub holds time.monotonic itself, and code checks which clock it has (oslo.service
    # tests hub.clock == time.monotonic).
    import time

    assert hub.clock == time.monotonic


def test_schedule_call_global_runs_on_the_timer_thread(eventlet: Any) -> None:
    hub = eventlet.hubs.get_hub()
    evt = threadevent.Event[tuple[Any, ...]]()

    def callback(a: int, b: int = 0) -> None:
        evt.send((a, b, threading.current_thread().name))

    timer = hub.schedule_call_global(0.001, callback, 1, b=2)
    assert evt.wait(PATIENCE) == (1, 2, "threadevent-timer")
    wait_until(lambda: timer.called, what="the timer to be marked called")
    assert not timer.pending


def hold_the_timer_thread(hub: Any) -> Callable[[], None]:
    """Block the timer thread in a call until the returned function is called: calls due meanwhile
    wait behind it, in deadline order."""
    entered, release = threading.Event(), threading.Event()

    def hold() -> None:
        entered.set()
        release.wait(PATIENCE)

    hub.schedule_call_global(0, hold)
    assert entered.wait(PATIENCE)
    return release.set


def test_a_cancelled_hub_timer_never_runs(eventlet: Any) -> None:
    hub = eventlet.hubs.get_hub()
    ran: list[str] = []
    after = threadevent.Event[None]()
    let_go = hold_the_timer_thread(hub)
    try:
        timer = hub.schedule_call_global(0, ran.append, "cancelled")
        timer.cancel()  # due already, but the timer thread is held: the cancel comes first
        assert timer.called and not timer.pending
        hub.schedule_call_global(0, after.send, None)
    finally:
        let_go()
    after.wait(PATIENCE)  # the timer thread runs calls in deadline order: the cancelled one is past
    assert ran == []
    timer.cancel()  # a second cancel: no effect


def test_schedule_call_local_is_skipped_when_its_greenthread_has_ended(eventlet: Any) -> None:
    hub = eventlet.hubs.get_hub()
    ran: list[str] = []
    done = threadevent.Event[None]()
    let_go = hold_the_timer_thread(hub)
    try:
        gt = eventlet.spawn(lambda: hub.schedule_call_local(0, ran.append, "local"))
        timer = gt.wait()  # the greenthread has ended before the timer thread can look at its call
        assert not timer.pending
        hub.schedule_call_global(0, done.send, None)
    finally:
        let_go()
    done.wait(PATIENCE)
    assert ran == []
    assert timer.called


def test_schedule_call_local_runs_while_its_thread_lives(eventlet: Any) -> None:
    hub = eventlet.hubs.get_hub()
    evt = threadevent.Event[str]()
    timer = hub.schedule_call_local(0, evt.send, "ran")
    assert evt.wait(PATIENCE) == "ran"
    wait_until(lambda: timer.called, what="the timer to be marked called")


def test_hub_timers_check_their_arguments(eventlet: Any) -> None:
    hub = eventlet.hubs.get_hub()
    with pytest.raises(TypeError, match="callable cb"):
        hub.schedule_call_global(0, "not callable")
    with pytest.raises(TypeError, match="seconds"):
        hub.schedule_call_local("soon", print)


def test_the_hub_watches_no_file_descriptors_and_counts_its_pending_timers(eventlet: Any) -> None:
    # eventlet's own test harness (and code that checks for a leaked listener) asks the hub after each
    # test what it still watches; on threads nothing is registered with a hub.
    hub = eventlet.hubs.get_hub()
    assert list(hub.get_readers()) == [] and list(hub.get_writers()) == []
    before = hub.get_timers_count()
    done = threadevent.Event[None]()
    let_go = hold_the_timer_thread(hub)
    try:
        cancelled = hub.schedule_call_global(0, print, "never")
        due = hub.schedule_call_global(0, done.send, None)
        assert hub.get_timers_count() == before + 2
        cancelled.cancel()
        assert hub.get_timers_count() == before + 1
    finally:
        let_go()
    done.wait(PATIENCE)
    wait_until(lambda: hub.get_timers_count() == before, what="the run timer to leave the count")
    assert due.called


def test_use_hub_does_nothing(eventlet: Any) -> None:
    assert eventlet.hubs.use_hub() is None
    assert eventlet.hubs.use_hub("poll") is None
    assert eventlet.hubs.notify_close(3) is None
    assert eventlet.hubs.notify_opened(3) is None


def test_trampoline_waits_for_a_socket(eventlet: Any) -> None:
    from eventlet.hubs import trampoline

    a, b = socket.socketpair()
    with a, b:
        with pytest.raises(threadevent.Timeout):
            trampoline(a, read=True, timeout=0.01)
        with pytest.raises(OSError, match="custom"):
            trampoline(a.fileno(), read=True, timeout=0, timeout_exc=OSError("custom"))
        assert trampoline(a, write=True, timeout=PATIENCE) is None
        gt = eventlet.spawn(trampoline, a, read=True)
        b.sendall(b"x")
        assert gt.wait() is None


def test_trampoline_is_reached_by_a_kill(eventlet: Any) -> None:
    from eventlet.hubs import trampoline

    a, b = socket.socketpair()
    with a, b:
        started = threadevent.Event[None]()

        def blocked() -> None:
            started.send(None)
            trampoline(a, read=True)

        gt = eventlet.spawn(blocked)
        started.wait(PATIENCE)
        assert gt.kill(timeout=PATIENCE)
        with pytest.raises(threadevent.GreenletExit):
            gt.wait()


def test_trampoline_checks_its_arguments(eventlet: Any) -> None:
    from eventlet.hubs import trampoline

    with pytest.raises(RuntimeError, match="reading and writing"):
        trampoline(0, read=True, write=True)
    with pytest.raises(ValueError, match="read=True or write=True"):
        trampoline(0)
    with pytest.raises(TypeError, match="timeout"):
        trampoline(0, read=True, timeout="soon")


# -- eventlet.debug ------------------------------------------------------------------------------------

#: eventlet 0.41.3's ``eventlet.debug.__all__``: each function's parameters, with their defaults.
DEBUG_SIGNATURES: dict[str, list[tuple[str, object]]] = {
    "spew": [("trace_names", None), ("show_values", False)],
    "unspew": [],
    "format_hub_listeners": [],
    "format_hub_timers": [],
    "format_asyncio_info": [],
    "format_threads_info": [],
    "hub_listener_stacks": [("state", False)],
    "hub_timer_stacks": [("state", False)],
    "hub_prevent_multiple_readers": [("state", True)],
    "hub_exceptions": [("state", True)],
    "tpool_exceptions": [("state", False)],
    "hub_blocking_detection": [("state", False), ("resolution", 1)],
}


def test_debug_is_provided_with_eventlets_names_and_parameters(
    eventlet: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="threadevent"):
        from eventlet import debug
    assert "not provided" not in caplog.text  # not a stand-in any more
    assert set(DEBUG_SIGNATURES) <= set(debug.__all__)
    for name, expected in DEBUG_SIGNATURES.items():
        parameters = inspect.signature(getattr(debug, name)).parameters.values()
        assert [(p.name, p.default) for p in parameters] == expected, name
        assert all(p.kind is p.POSITIONAL_OR_KEYWORD for p in parameters), name


def test_debug_switches_whose_promise_holds_on_threads_are_accepted(eventlet: Any) -> None:
    from eventlet import debug

    # As in eventlet, a state is anything, taken for its truth.
    for state in (False, True, 0, 1, None, "yes"):
        assert debug.hub_prevent_multiple_readers(state) is None
        assert debug.hub_listener_stacks(state) is None
        assert debug.tpool_exceptions(state) is None
    for call in (
        debug.hub_prevent_multiple_readers,
        debug.hub_listener_stacks,
        debug.hub_timer_stacks,
        debug.tpool_exceptions,
        debug.hub_exceptions,
        debug.hub_blocking_detection,
    ):
        assert call() is None  # each default
    assert debug.hub_exceptions(True) is None
    assert debug.hub_exceptions("on") is None
    assert debug.hub_blocking_detection(False, 0.5) is None
    assert debug.hub_blocking_detection(state=0, resolution=3) is None


def test_debug_hub_exceptions_on_is_what_threadevent_does_already(
    eventlet: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from eventlet import debug

    reported = threading.Event()

    def hook(args: Any) -> None:
        if repr(args.exc_value) == "KeyError('reported')":  # not a stray one of another test's
            reported.set()

    monkeypatch.setattr(threading, "excepthook", hook)
    debug.hub_exceptions(True)

    def fail() -> None:
        raise KeyError("reported")

    eventlet.spawn_n(fail)
    assert reported.wait(PATIENCE)


@pytest.mark.parametrize("state", [False, 0, None, ""])
def test_debug_hub_exceptions_off_is_refused_naming_what_silences_them(eventlet: Any, state: Any) -> None:
    from eventlet import debug

    with pytest.raises(NotImplementedError) as caught:
        debug.hub_exceptions(state)
    message = str(caught.value)
    assert message.startswith("eventlet.debug.hub_exceptions(False) is not provided by threadevent.compat")
    assert "threading.excepthook" in message
    assert "logger 'threadevent'" in message


def test_debug_hub_blocking_detection_on_is_refused_naming_faulthandler(eventlet: Any) -> None:
    from eventlet import debug

    for args in ((True,), (1, 0.25)):
        with pytest.raises(NotImplementedError) as caught:
            debug.hub_blocking_detection(*args)
        message = str(caught.value)
        assert message.startswith("eventlet.debug.hub_blocking_detection(True) is not provided")
        assert "faulthandler.dump_traceback_later" in message


def test_debug_hub_blocking_detection_checks_its_resolution_first(eventlet: Any) -> None:
    from eventlet import debug

    # eventlet asserts ``resolution > 0`` before it looks at the state; here also under ``python -O``.
    for resolution in (0, -1, float("nan")):
        for state in (False, True):
            with pytest.raises(AssertionError, match=r"resolution must be > 0"):
                debug.hub_blocking_detection(state, resolution)
    with pytest.raises(TypeError, match=r"resolution must be a number of seconds, not str"):
        debug.hub_blocking_detection(False, "1")


def test_debug_format_hub_listeners_shows_that_no_file_descriptor_is_watched(eventlet: Any) -> None:
    from eventlet import debug

    nothing = os.linesep.join(["READERS:", "WRITERS:"])  # eventlet's text for a hub watching nothing
    assert debug.format_hub_listeners() == nothing
    debug.hub_listener_stacks(True)
    try:
        with socket.socket() as sock:
            assert debug.format_hub_listeners() == nothing
            del sock
    finally:
        debug.hub_listener_stacks(False)


def _never_called() -> None:
    raise AssertionError("a timer scheduled an hour ahead ran")


def test_debug_format_hub_timers_lists_the_hubs_pending_timers(eventlet: Any) -> None:
    from eventlet import debug

    hub = eventlet.hubs.get_hub()
    assert debug.format_hub_timers().split(os.linesep)[0] == "TIMERS:"
    timer = hub.schedule_call_global(3600, _never_called)
    try:
        listed = debug.format_hub_timers()
        assert listed.split(os.linesep)[0] == "TIMERS:"
        assert repr(timer) in listed.split(os.linesep)[1:]
        assert "_never_called" in repr(timer)
        assert 'File "' not in listed  # no stacks unless asked for
    finally:
        timer.cancel()
    assert "_never_called" not in debug.format_hub_timers()


def test_debug_hub_timer_stacks_shows_where_each_timer_was_set(eventlet: Any) -> None:
    from eventlet import debug

    hub = eventlet.hubs.get_hub()
    debug.hub_timer_stacks(True)
    try:
        timer = hub.schedule_call_local(3600, _never_called)  # this line, in the stack
        line = inspect.currentframe().f_lineno - 1  # type: ignore[union-attr]
    finally:
        debug.hub_timer_stacks(False)
    plain = hub.schedule_call_global(3600, _never_called)
    try:
        listed = debug.format_hub_timers()
        assert f'File "{__file__}", line {line}, in test_debug_hub_timer_stacks' in listed
        assert f'File "{__file__}", line {line}' in repr(timer)
        assert "_compat_eventlet" not in repr(timer)  # the stack ends at the caller, not in the hub
        assert 'File "' not in repr(plain)  # set after the switch went off again
    finally:
        timer.cancel()
        plain.cancel()


def test_debug_format_threads_info_lists_the_running_threads(eventlet: Any) -> None:
    from eventlet import debug

    title, _, threads = debug.format_threads_info().partition(os.linesep)
    assert title == "THREADS:"
    assert f"{threading.get_ident()}: {threading.current_thread()!r}" in threads


def test_debug_format_asyncio_info_describes_the_running_loop(eventlet: Any) -> None:
    import asyncio

    from eventlet import debug

    with pytest.raises(RuntimeError, match="no running event loop"):  # as in eventlet
        debug.format_asyncio_info()

    async def describe() -> str:
        return debug.format_asyncio_info()

    title, tasks, loop = asyncio.run(describe()).split(os.linesep)
    assert title == "TASKS:"
    assert "describe()" in tasks
    assert loop.startswith("EVENTLOOP: <") and "EventLoop" in loop


def _spewed(number: int) -> int:
    doubled = number * 2
    return doubled


def test_debug_spew_class_prints_each_line_it_traces(
    eventlet: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from eventlet import debug

    source, first = inspect.getsourcelines(_spewed)
    previous = sys.gettrace()
    sys.settrace(debug.Spew(show_values=True))
    try:
        _spewed(21)
    finally:
        sys.settrace(previous)
    sys.settrace(debug.Spew(trace_names=["some.other.module"]))
    try:
        _spewed(4)
    finally:
        sys.settrace(previous)
    out = capsys.readouterr().out
    expected = [
        f"{__name__}:{first + 1}: {source[1].rstrip()}",
        "\tnumber=21",
        f"{__name__}:{first + 2}: {source[2].rstrip()}",
        "\tdoubled=42",
    ]
    lines = out.splitlines()
    start = lines.index(expected[0])
    assert lines[start : start + 4] == expected
    assert "number=4" not in out  # only the modules named are traced


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="spew() traces every thread from Python 3.12 on")
def test_debug_spew_before_python_3_12_is_refused_naming_settrace(eventlet: Any) -> None:
    from eventlet import debug

    previous = sys.gettrace()
    with pytest.raises(NotImplementedError) as caught:
        debug.spew()
    message = str(caught.value)
    assert "threading.settrace_all_threads" in message and "sys.settrace" in message
    assert sys.gettrace() is previous
    assert debug.unspew() is None  # spew() installed nothing, so nothing to remove
    assert sys.gettrace() is previous


SPEW = """\
import eventlet
from eventlet import debug


def before():
    return "before"  # runs before spew()


def traced():
    return "traced"  # runs while spew() traces every thread


def after():
    return "after"  # runs after unspew()


eventlet.spawn(before).wait()  # a worker thread exists before spew(), and is idle: it is traced too
debug.spew()
value = eventlet.spawn(traced).wait()
debug.unspew()
print("result", value, eventlet.spawn(after).wait())
"""


@pytest.mark.skipif(sys.version_info < (3, 12), reason="needs threading.settrace_all_threads")
def test_debug_spew_traces_the_greenthreads_until_unspew(tmp_path: Path) -> None:
    (tmp_path / "spewing.py").write_text(SPEW)
    done = run_compat("spewing.py", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[-1] == "result traced after"
    assert '__main__:10:     return "traced"  # runs while spew() traces every thread' in lines
    assert not any("runs before spew()" in line or "runs after unspew()" in line for line in lines)


# -- the eventlet modules the alias does not provide --------------------------------------------------------

STAND_INS = [
    ("eventlet.wsgi", "wsgiref"),
    ("eventlet.websocket", "websockets"),
    ("eventlet.backdoor", "faulthandler"),
    ("eventlet.dagpool", "GreenPool"),
    ("eventlet.db_pool", "connection pool"),
    ("eventlet.corolocal", "contextvars"),
    ("eventlet.hubs.hub", "no hub"),
    ("eventlet.zipkin.api", "OpenTelemetry"),
    ("eventlet.support.six", "six"),
    ("eventlet.api", "threadevent's API"),  # from eventlet's distant past
]


@pytest.mark.parametrize(("name", "advice"), STAND_INS)
def test_other_modules_import_and_warn_once(
    eventlet: Any, caplog: pytest.LogCaptureFixture, name: str, advice: str
) -> None:
    with caplog.at_level(logging.WARNING, logger="threadevent"):
        module = importlib.import_module(name)
        assert importlib.import_module(name) is module
        exec(f"import {name}\nfrom {name} import *", {})
    records = [r for r in caplog.records if name in r.getMessage()]
    assert len(records) == 1
    assert records[0].levelno == logging.WARNING
    assert advice in records[0].getMessage()


@pytest.mark.parametrize(("name", "advice"), STAND_INS)
def test_using_a_name_of_another_module_says_what_to_use(eventlet: Any, name: str, advice: str) -> None:
    module = importlib.import_module(name)
    with pytest.raises(NotImplementedError) as caught:
        module.server(("", 8080), object())
    message = str(caught.value)
    assert message.startswith(f"{name}.server: {name} is not provided by threadevent.compat; instead: ")
    assert advice in message
    assert advice in repr(module.server)


def test_every_use_of_a_stand_in_name_raises(eventlet: Any) -> None:
    from eventlet.wsgi import HttpProtocol, server  # imports in passing work

    with pytest.raises(NotImplementedError, match=r"eventlet\.wsgi\.server"):
        server()
    with pytest.raises(NotImplementedError, match=r"eventlet\.wsgi\.server"):
        server.attribute  # noqa: B018
    with pytest.raises(NotImplementedError, match=r"eventlet\.wsgi\.HttpProtocol"):

        class Handler(HttpProtocol):  # type: ignore[misc,valid-type]
            pass

    with pytest.raises(NotImplementedError, match=r"eventlet\.wsgi\.HttpProtocol"):
        isinstance(object(), HttpProtocol)  # type: ignore[arg-type]
    with pytest.raises(NotImplementedError):
        iter(server)  # type: ignore[call-overload]
    with pytest.raises(NotImplementedError):
        server["key"]
    assert not hasattr(server, "__wrapped__")  # what inspect.unwrap and mock look for
    assert server == server and hash(server) == hash(server)


def test_names_and_modules_eventlet_never_had_are_import_errors(eventlet: Any) -> None:
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("eventlet.no_such_module")
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("eventlet.hubs.no_such_hub")
    with pytest.raises(ImportError, match="cannot import name 'no_such_name'"):
        exec("from eventlet import no_such_name", {})
    with pytest.raises(ImportError, match="cannot import name 'exc_after'"):
        exec("from eventlet import exc_after", {})
    assert eventlet_modules() == ["eventlet", "eventlet.hubs"]


def test_stand_ins_show_importlib_pytest_and_inspect_what_they_look_for(eventlet: Any) -> None:
    import eventlet.wsgi

    module = eventlet.wsgi
    for dunder in ("__file__", "__all__", "__wrapped__", "__test__", "_pytestfixturefunction"):
        assert not hasattr(module, dunder)
    assert module.__name__ == "eventlet.wsgi"
    assert module.__spec__.name == "eventlet.wsgi"
    assert module.__path__ == []
    assert "not provided" in (module.__doc__ or "")
    assert inspect.ismodule(module)
    assert dict(inspect.getmembers(module))["__name__"] == "eventlet.wsgi"
    assert importlib.util.find_spec("eventlet.wsgi") is module.__spec__
    assert repr(module) == "<module 'eventlet.wsgi' (threadevent.compat)>"


def test_star_import_from_a_stand_in_binds_nothing(eventlet: Any) -> None:
    namespace: dict[str, Any] = {}
    exec("from eventlet.backdoor import *", namespace)
    assert set(namespace) == {"__builtins__"}


def test_from_eventlet_import_a_stand_in(eventlet: Any) -> None:
    from eventlet import backdoor, wsgi

    assert wsgi is sys.modules["eventlet.wsgi"]
    assert backdoor is sys.modules["eventlet.backdoor"]
    assert eventlet.wsgi is wsgi


# -- python -m threadevent.compat ---------------------------------------------------------------------


def test_runner_without_arguments_prints_its_usage_and_fails(tmp_path: Path) -> None:
    done = run_compat(cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith("usage: python -m threadevent.compat [-m module | script] [args ...]")


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_runner_help(tmp_path: Path, flag: str) -> None:
    done = run_compat(flag, cwd=tmp_path)
    assert done.returncode == 0
    assert done.stdout.startswith("usage: python -m threadevent.compat")
    assert "-m module" in done.stdout


def test_runner_refuses_an_unknown_option_a_missing_script_and_a_missing_module(tmp_path: Path) -> None:
    done = run_compat("--frobnicate", cwd=tmp_path)
    assert (done.returncode, "unknown option '--frobnicate'" in done.stderr) == (2, True)
    done = run_compat("missing.py", cwd=tmp_path)
    assert (done.returncode, "can't open file 'missing.py'" in done.stderr) == (2, True)
    done = run_compat("-m", "no_such_module_here", cwd=tmp_path)
    assert (done.returncode, "No module named no_such_module_here" in done.stderr) == (1, True)
    done = run_compat("-m", cwd=tmp_path)
    assert (done.returncode, "-m needs a module name" in done.stderr) == (2, True)


SHOW = """\
import sys
import eventlet
from threadevent import compat
compat.install()  # the runner's alias is this module's: installing again changes nothing
print(repr(__name__), sys.argv, sys.path[0], eventlet.spawn(lambda: 'spawned').wait())
sys.exit(int(sys.argv[-1]))
"""


def test_runner_runs_a_script_as_python_does(tmp_path: Path) -> None:
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    (scripts / "show.py").write_text(SHOW)
    done = run_compat("scripts/show.py", "--flag", "3", cwd=tmp_path)
    assert done.returncode == 3, done.stderr
    assert done.stdout == f"'__main__' ['scripts/show.py', '--flag', '3'] {scripts} spawned\n"


@pytest.mark.parametrize("form", [["-m", "show"], ["-mshow"]])
def test_runner_runs_a_module_as_python_m_does(tmp_path: Path, form: list[str]) -> None:
    (tmp_path / "show.py").write_text(SHOW)
    done = run_compat(*form, "a b", "0", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"'__main__' ['{tmp_path / 'show.py'}', 'a b', '0'] {tmp_path} spawned\n"


def test_runner_an_uncaught_exception_fails_the_run(tmp_path: Path) -> None:
    (tmp_path / "boom.py").write_text("raise KeyError('boom')\n")
    done = run_compat("boom.py", cwd=tmp_path)
    assert done.returncode == 1
    assert "KeyError: 'boom'" in done.stderr


def test_runner_runs_an_eventlet_style_program(tmp_path: Path) -> None:
    done = run_compat(str(PROJECT / "program.py"), "x", "y", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "imap [0, 1, 4, 9, 16, 25, 36, 49, 64, 81]",
        "queue [0, 1, 2, 3, 4]",
        "event ready",
        "timeout raised",
        "kill killed",
        "green threading True",
        "args ['x', 'y']",
    ]
    # The one eventlet module it imports in passing is named, with what to use instead.
    assert "eventlet.backdoor is not provided by threadevent.compat" in done.stderr
    assert "Traceback" not in done.stderr


STARTS_WITH_DEBUG_SWITCHES = """\
import eventlet
import eventlet.debug

eventlet.debug.hub_prevent_multiple_readers(False)
eventlet.debug.hub_exceptions(True)
eventlet.debug.hub_blocking_detection(False)
print(eventlet.spawn(lambda: "started").wait())
"""


def test_runner_runs_a_program_that_sets_eventlets_debug_switches_at_start_up(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(STARTS_WITH_DEBUG_SWITCHES)
    done = run_compat("app.py", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "started\n"
    assert "not provided" not in done.stderr


def test_runner_runs_an_eventlet_style_test_suite_with_pytest() -> None:
    done = run_compat("-m", "pytest", "-q", "-p", "no:randomly", cwd=PROJECT)
    assert done.returncode == 0, done.stdout + done.stderr
    summary = done.stdout.strip().splitlines()[-1]
    assert " passed" in summary and "failed" not in summary and "error" not in summary, done.stdout


def test_runner_propagates_a_failing_test_suite(tmp_path: Path) -> None:
    (tmp_path / "pytest.ini").write_text("[pytest]\naddopts = -p no:cacheprovider\n")
    (tmp_path / "test_fails.py").write_text(
        "import eventlet\n\n\ndef test_fails():\n    assert eventlet.spawn(int).wait() == 1\n"
    )
    done = run_compat("-m", "pytest", "-q", cwd=tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "1 failed" in done.stdout


def test_the_compat_project_is_not_collected_by_threadevents_own_run(pytestconfig: pytest.Config) -> None:
    assert "compat_project" in pytestconfig.getini("norecursedirs")
    assert (PROJECT / "pytest.ini").is_file()  # its own run's configuration
