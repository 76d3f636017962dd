"""The atlas on a real Dask cluster (issue 33): a ``dask scheduler`` and two ``dask worker`` processes
on 127.0.0.1, started with the command docs/atlas.md gives users, then the faults: a worker
SIGKILLed while it holds a unit, and a scheduler that is not there."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from ..conftest import ATLAS_BASE as BASE
from ..conftest import ATLAS_UNITS as UNITS
from ..conftest import REPO, atlas, free_port
from .test_atlas import files

DASK = str(Path(sys.executable).with_name("dask"))
# what docs/atlas.md tells users to give every `dask worker` (the LocalCluster's WORKER_CONFIG)
WORKER_ENV = {"MALLOC_ARENA_MAX": "1", "THP_MEM_ALLOC_ENABLE": "1", "OMP_NUM_THREADS": "1",
              "DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED": "False", "DASK_DISTRIBUTED__ADMIN__TICK__INTERVAL": "1s",
              "DASK_DISTRIBUTED__ADMIN__SYSTEM_MONITOR__INTERVAL": "5s",
              "DASK_DISTRIBUTED__WORKER__MEMORY__MONITOR_INTERVAL": "1s"}


def _stop(procs):
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """``dask scheduler`` and two one-thread ``dask worker`` processes (each with its nanny), as
    separate process groups; stopped, and waited for, at the end."""
    from distributed import Client

    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    logs = tmp_path_factory.mktemp("dask")
    env = {**os.environ, **WORKER_ENV}
    procs = [subprocess.Popen([DASK, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
                              cwd=REPO, env=env, stdout=open(logs / "scheduler.log", "w"), stderr=subprocess.STDOUT,
                              start_new_session=True)]
    for i in range(2):
        procs.append(subprocess.Popen([DASK, "worker", address, "--nworkers", "1", "--nthreads", "1",
                                       "--no-dashboard", "--name", f"w{i}"], cwd=REPO, env=env,
                                      stdout=open(logs / f"worker{i}.log", "w"), stderr=subprocess.STDOUT,
                                      start_new_session=True))
    try:
        deadline = time.time() + 120
        while True:
            try:
                with Client(address, timeout=5) as client:
                    client.wait_for_workers(2, timeout=max(1, deadline - time.time()))
                    break
            except (OSError, TimeoutError):
                assert time.time() < deadline, (logs / "scheduler.log").read_text()[-2000:]
                time.sleep(1)
        yield address
    finally:
        _stop(procs)


def test_a_real_cluster_gives_the_serial_runs_bytes(serial_store, cluster, tmp_path):
    store = tmp_path / "cluster"
    proc = atlas("--units", UNITS, "--out", str(store), "--scheduler", cluster, *BASE)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert cluster in proc.stdout
    assert files(store) == files(serial_store)


def _kill_a_busy_worker(address, killed: dict, stop: threading.Event):
    """SIGKILL the worker process that holds a unit of the atlas run, once (then stop)."""
    from distributed import Client

    with Client(address, timeout=10) as client:
        while not stop.is_set():
            busy = [w for w, keys in client.processing().items() if any("render_unit" in str(k) for k in keys)]
            if busy:
                pids = client.run(os.getpid, workers=busy[:1])
                (worker, pid), = pids.items()
                time.sleep(1.0)  # well inside the unit (a unit takes tens of seconds here)
                os.kill(pid, signal.SIGKILL)
                killed.update(worker=worker, pid=pid)
                return
            time.sleep(0.2)


@pytest.fixture
def serial_store(atlas_store):
    return atlas_store


def test_a_worker_killed_mid_unit_costs_time_not_results(serial_store, cluster, tmp_path):
    """Dask reschedules the lost worker's unit (its nanny starts a new worker); the run ends with
    the serial run's bytes, every unit written once. The wall time of the interrupted run beside
    an uninterrupted one on the same cluster is printed (the cost of one lost unit)."""
    plain = tmp_path / "plain"
    proc = atlas("--units", UNITS, "--out", str(plain), "--scheduler", cluster, *BASE)
    assert proc.returncode == 0, proc.stderr[-3000:]
    store = tmp_path / "lost"
    killed, stop = {}, threading.Event()
    killer = threading.Thread(target=_kill_a_busy_worker, args=(cluster, killed, stop), daemon=True)
    killer.start()
    try:
        proc = atlas("--units", UNITS, "--out", str(store), "--scheduler", cluster, *BASE)
    finally:
        stop.set()
        killer.join(30)
    assert killed, "no worker held a unit to kill"
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert files(store) == files(serial_store)
    run = json.loads((store / "manifest.json").read_text())["runs"][-1]
    assert sorted(run["computed"]) == sorted(int(u) for u in UNITS.split(","))  # each unit once
    assert not run["failed"] and not [p for p in (store / "units").iterdir() if p.name.startswith(".")]
    base = json.loads((plain / "manifest.json").read_text())["runs"][-1]["seconds"]
    print(f"\nlost worker: {run['seconds']:.1f} s against {base:.1f} s uninterrupted "
          f"({run['seconds'] / base:.2f}x; killed pid {killed['pid']} on {killed['worker']})")


def test_a_scheduler_that_is_not_there_is_a_one_line_error_within_seconds(tmp_path):
    address = f"tcp://127.0.0.1:{free_port()}"  # nothing listens there
    t0 = time.perf_counter()
    proc = atlas("--units", "945", "--out", str(tmp_path / "s"), "--scheduler", address, *BASE)
    took = time.perf_counter() - t0
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: no Dask scheduler answers at {address} within 5 s")
    assert "Traceback" not in proc.stderr
    # it connects before it loads anything (so the wait is the 5 s connect timeout, not a model load)
    assert not (tmp_path / "s").exists()
    print(f"\nno scheduler: the error came after {took:.1f} s")


def test_the_device_is_resolved_once_per_run_and_a_missing_gpu_is_one_line(serial_store, tmp_path):
    """--device auto (the default) is the CPU on this machine, with the serial store's keys and
    bytes; --device cuda where no GPU is visible is a one-line error before anything runs."""
    import torch

    from mfv_utils import atlas as mfv_atlas

    assert mfv_atlas.run_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    manifest = json.loads((serial_store / "manifest.json").read_text())
    assert manifest["spec"]["device"] == mfv_atlas.run_device("auto")
    assert manifest["identity"]["numerics"].endswith("@" + mfv_atlas.run_device("auto"))
    if torch.cuda.is_available():
        pytest.skip("a GPU is visible: the missing-GPU error cannot be shown here")
    proc = atlas("--units", "945", "--out", str(tmp_path / "g"), "--device", "cuda", *BASE)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: device 'cuda' is not available"), proc.stderr
