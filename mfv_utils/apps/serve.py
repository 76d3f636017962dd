"""Run a server (Voila, JupyterLab) as a child that stops with its parent, kernels and all.

``make teach`` and ``make lab`` start a Jupyter server, which starts one kernel per open page.
:func:`run` keeps that tree from outliving the command that started it:

- the server runs in a process group (and session) of its own, so a terminal's Ctrl-C reaches
  only the wrapper, which then stops the server in order instead of both racing;
- on SIGINT, SIGTERM or SIGHUP the wrapper sends the server SIGTERM (the Jupyter server's own
  clean stop: it shuts its kernels down), waits up to ``grace`` seconds for the server and every
  process it started, then SIGKILLs whatever is left (the group, and descendants that left it:
  Jupyter starts each kernel in a session of its own);
- on Linux the server also gets SIGTERM if the wrapper itself dies without a chance to act
  (SIGKILL, a crash): ``PR_SET_PDEATHSIG``.
"""
from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time

import psutil

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
PR_SET_PDEATHSIG = 1


class _Stop(Exception):
    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _die_with_parent() -> None:  # runs in the child between fork and exec
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        except (OSError, AttributeError):
            pass  # no prctl: the signal handlers below still stop the server


def descendants(pid: int) -> list[psutil.Process]:
    """Every living process below ``pid`` (empty if it is gone)."""
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return []


def stop(proc: subprocess.Popen, grace: float = 10.0) -> None:
    """Stop ``proc`` (started by :func:`start`) and everything it started: SIGTERM to the server,
    up to ``grace`` seconds for it and its descendants to exit, then SIGKILL to what is left."""
    tree = {p.pid: p for p in descendants(proc.pid)}
    if proc.poll() is None:
        try:
            proc.send_signal(signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        tree.update((p.pid, p) for p in descendants(proc.pid))  # kernels started meanwhile
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    alive = [p for p in tree.values() if p.is_running()]
    if alive:
        _, alive = psutil.wait_procs(alive, timeout=max(0.0, deadline - time.monotonic()))
    if proc.poll() is None or alive:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # the server's own group (its pid: a new session)
        except (ProcessLookupError, PermissionError):
            pass
        for p in alive:
            try:
                p.kill()
            except psutil.Error:
                pass
        psutil.wait_procs(alive, timeout=5)
    proc.wait()


def start(cmd: list[str], **popen) -> subprocess.Popen:
    """``cmd`` as a server child: its own session and process group, and SIGTERM when we die."""
    return subprocess.Popen(cmd, start_new_session=True, preexec_fn=_die_with_parent, **popen)


def run(cmd: list[str], grace: float = 10.0, **popen) -> int:
    """Run the server ``cmd`` until it exits (its exit code) or until this process gets SIGINT,
    SIGTERM or SIGHUP: then the server tree is stopped (:func:`stop`) and 0 is returned."""
    def raise_stop(signum, frame):
        raise _Stop(signum)

    previous = {s: signal.signal(s, raise_stop) for s in STOP_SIGNALS}
    proc = None
    try:
        proc = start(cmd, **popen)
        return proc.wait()
    except _Stop:
        return 0
    finally:
        for s in STOP_SIGNALS:  # a second signal during the stop must not interrupt it
            signal.signal(s, signal.SIG_IGN)
        if proc is not None and (proc.poll() is None or descendants(proc.pid)):
            stop(proc, grace)
        for s, handler in previous.items():
            signal.signal(s, handler)
