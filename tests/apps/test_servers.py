"""``make teach`` and ``make lab`` stop their server, kernels and all, on SIGINT, SIGTERM and SIGHUP,
and when the wrapper itself is killed: no process of the tree remains and the port is free.

Each test starts the real command (``python -m mfv_utils.teach`` / ``python -m mfv_utils.lab``) on a
free 127.0.0.1 port, lets the server start a kernel where it says so (a Voila page rendered, a
JupyterLab kernel asked for over its REST API), records every process below the wrapper, signals
the wrapper and checks that each recorded process is gone within a bounded time.
"""
import json
import signal
import socket
import sys
import threading
import time
import urllib.request

import psutil
import pytest

from ..conftest import REPO, free_port, serve

STOPPED_WITHIN = 60.0  # seconds: the wrapper's grace (10 s) plus a kernel's shutdown on 2 busy cores


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        if s.connect_ex(("127.0.0.1", port)) == 0:
            return False
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as a server binds (TIME_WAIT allowed)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _start(args, port, log):
    return serve([sys.executable, "-m", *args], port, REPO, log=log, deadline=120.0)


def _tree(proc):
    return psutil.Process(proc.pid).children(recursive=True)


def _wait_for_kernel(proc, timeout=120.0):
    t0 = time.time()
    while time.time() - t0 < timeout:
        for p in _tree(proc):
            try:
                if "ipykernel_launcher" in " ".join(p.cmdline()):
                    return p
            except psutil.Error:
                pass
        time.sleep(0.2)
    raise AssertionError("the server started no kernel")


def _signal_and_check(proc, sig, port):
    tree = _tree(proc)
    assert tree, "the wrapper has no server child"
    proc.send_signal(sig)
    rc = proc.wait(STOPPED_WITHIN)
    gone, alive = psutil.wait_procs(tree, timeout=STOPPED_WITHIN)
    left = [f"{p.pid} {' '.join(p.cmdline())[:120]}" for p in alive if p.is_running()]
    for p in alive:
        p.kill()
    assert not left, f"after {signal.Signals(sig).name} these processes remain: {left}"
    assert _port_free(port), f"port {port} still taken after {signal.Signals(sig).name}"
    return rc, tree


def _teach(port, tmp_path):
    return ["mfv_utils.teach", "--port", str(port), "--build", str(tmp_path / "teach"),
            "--figures", str(REPO / "figures")]


def test_teach_stops_server_and_kernel_on_sigterm(tmp_path):
    """SIGTERM (``proc.terminate()``, ``kill``, a process manager) to ``make teach``'s wrapper while a
    page's kernel runs: Voila and the kernel are gone, the port is free, the exit code is 0."""
    port = free_port()
    with open(tmp_path / "log", "w") as log:
        proc = _start(_teach(port, tmp_path), port, log)
        try:
            page = threading.Thread(target=lambda: _get(f"http://127.0.0.1:{port}/voila/render/01_facets.ipynb"),
                                    daemon=True)
            page.start()
            _wait_for_kernel(proc)
            rc, tree = _signal_and_check(proc, signal.SIGTERM, port)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert rc == 0
    assert len(tree) >= 2  # the server and at least one kernel were recorded, and both are gone


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGHUP])
def test_teach_stops_on_sigint_and_sighup(tmp_path, sig):
    port = free_port()
    with open(tmp_path / "log", "w") as log:
        proc = _start(_teach(port, tmp_path), port, log)
        try:
            rc, _ = _signal_and_check(proc, sig, port)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert rc == 0


def test_a_killed_wrapper_takes_its_server_along(tmp_path):
    """SIGKILL gives the wrapper no chance to act: the server still stops (PR_SET_PDEATHSIG)."""
    port = free_port()
    with open(tmp_path / "log", "w") as log:
        proc = _start(_teach(port, tmp_path), port, log)
        tree = _tree(proc)
        proc.kill()
        proc.wait()
        _, alive = psutil.wait_procs(tree, timeout=STOPPED_WITHIN)
        for p in alive:
            p.kill()
    assert not alive, f"the server outlived its killed wrapper: {[p.pid for p in alive]}"


def _get(url, data=None, headers=None):
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data, headers=headers or {}), timeout=300) as r:
            return r.read()
    except Exception:  # noqa: BLE001 - the server was stopped while answering (reset, incomplete read)
        return None


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_lab_stops_server_and_kernel(tmp_path, sig):
    """``make lab`` with a running kernel: the signal to the wrapper stops JupyterLab and the kernel."""
    port = free_port()
    with open(tmp_path / "log", "w") as log:
        proc = _start(["mfv_utils.lab", "--port", str(port), "--token", "mfv-test"], port, log)
        try:  # a token-authenticated REST call (no XSRF cookie needed) starts a kernel
            answer = _get(f"http://127.0.0.1:{port}/api/kernels", data=json.dumps({"name": "python3"}).encode(),
                          headers={"Authorization": "token mfv-test"})
            assert answer and json.loads(answer)["id"], answer
            _wait_for_kernel(proc)
            rc, tree = _signal_and_check(proc, sig, port)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert rc == 0 and len(tree) >= 2


def test_every_teach_page_names_an_explorer_that_exists(tmp_path):
    """Each page's one code cell imports the explorers' module and calls a function it has, on a
    folder that exists: a page that cannot start shows nothing but a traceback in the browser."""
    import ast
    import importlib

    import nbformat

    from mfv_utils import teach

    pages = teach.write_pages(tmp_path, REPO / "figures")
    assert len(pages) == len(teach.PAGES)
    for path in pages:
        (cell,) = [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]
        tree = ast.parse(cell.source)
        (imp,), call = [n for n in tree.body if isinstance(n, ast.ImportFrom)], tree.body[-1].value
        module = importlib.import_module(f"{imp.module}.{imp.names[0].name}")
        assert callable(getattr(module, call.func.attr)), (path.name, call.func.attr)
        assert (REPO / "figures").joinpath(call.args[0].value).exists(), path.name
