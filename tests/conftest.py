import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
# Tests read the real data through the project's own pooch code; offline, point it at the
# shared folder beside the checkout (CI's .ci/run sets it the same way).
if not os.environ.get("MFV_DATA_DIR") and SHARED.is_dir():
    os.environ["MFV_DATA_DIR"] = str(SHARED)


def run_cli(notebook, *args, build, timeout=900):
    """Run ``python -m mfv_utils.run <notebook> --build-dir <build> *args`` from the repository
    root, as a user would; returns the finished process (stdout, stderr, returncode)."""
    return subprocess.run([sys.executable, "-m", "mfv_utils.run", str(notebook), "--build-dir", str(build), *args],
                          cwd=REPO, env=dict(os.environ), capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="session")
def lite0():
    from mfv_utils.networks.models import load_model

    return load_model("efficientnet_lite0")


@pytest.fixture(scope="session")
def bell_pepper():
    from mfv_utils.data import load_image_set

    return load_image_set("paper:bell_pepper")


@pytest.fixture(scope="session")
def movie_theater():
    from mfv_utils.data import load_image_set

    return load_image_set("paper:movie_theater")


# ------------------------------------------------------------------ one smoke run of each notebook
# Session-scoped: the notebook tests check what each run wrote, the explorer and browser tests
# open the same runs' files.
NB02_LAYERS = '["block2", "block4", "pool", "logits"]'
NB04_CLASSES = '["paper:bell_pepper", "imagenette:tench"]'


def _smoke(tmp_path_factory, name, stem, *args, timeout=900):
    tmp = tmp_path_factory.mktemp(name)
    out = tmp / "out"
    proc = run_cli(REPO / "notebooks" / f"{stem}.py", "--smoke", *args, "-p", "out_dir", str(out),
                   build=tmp / "build", timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out, tmp / "build", proc


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory):
    """Notebook 01 on its defaults, smoke: (out, build, process)."""
    return _smoke(tmp_path_factory, "nb01", "01_bell_pepper_tsne")


@pytest.fixture(scope="session")
def smoke02(tmp_path_factory):
    out, _, _ = _smoke(tmp_path_factory, "nb02", "02_hidden_layer_facets", "-p", "pool", '["paper"]',
                       "-p", "layers", NB02_LAYERS, "-p", "top_n", "40", "-p", "k", "4", "-p", "shown_facets", "2",
                       "-p", "units_per_layer", "1", "-p", "stats_units", "2")
    return out, json.loads((out / "metrics.json").read_text())


@pytest.fixture(scope="session")
def smoke03(tmp_path_factory):
    out, _, _ = _smoke(tmp_path_factory, "nb03", "03_interpolation_study", "-p", "classes", '["paper:bell_pepper"]',
                       "-p", "pairs", "2", "-p", "n_interpolants", "3")
    return out, json.loads((out / "metrics.json").read_text())


@pytest.fixture(scope="session")
def smoke04(tmp_path_factory):
    out, _, _ = _smoke(tmp_path_factory, "nb04", "04_prior_comparison", "-p", "classes", NB04_CLASSES,
                       timeout=1200)
    return out, json.loads((out / "metrics.json").read_text())


@pytest.fixture(scope="session")
def smoke05(tmp_path_factory):
    out, _, _ = _smoke(tmp_path_factory, "nb05", "05_hidden_unit_attribution", "-p", "pool", '["paper"]',
                       "-p", "top_n", "40", "-p", "k", "4", "-p", "shown_facets", "2", "-p", "s9_units", "1",
                       "-p", "images_per_facet", "2")
    return out, json.loads((out / "metrics.json").read_text())


@pytest.fixture(scope="session")
def smoke06(tmp_path_factory):
    out, _, _ = _smoke(tmp_path_factory, "nb06", "06_class_atlas", "-p", "workers", "1")
    return out, json.loads((out / "metrics.json").read_text())


@pytest.fixture(scope="session")
def smoke09(tmp_path_factory):
    out, _, _ = _smoke(tmp_path_factory, "nb09", "09_pool_atlas", "-p", "workers", "1", "-p", "pool", '["paper"]',
                       "-p", "top_n", "40", "-p", "k", "4", "-p", "s9_units", "2")
    return out, json.loads((out / "metrics.json").read_text())


# ------------------------------------------------------------------ one smoke atlas (3 class units)
ATLAS_BASE = ["--pool", "paper", "--top-n", "40", "--k", "4", "--smoke", "--quiet"]
ATLAS_UNITS = "945,0,1"


def atlas(*args, timeout=600):
    """``python -m mfv_utils.atlas *args`` from the repository root, as a user would."""
    return subprocess.run([sys.executable, "-m", "mfv_utils.atlas", *args], cwd=REPO, env=dict(os.environ),
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="session")
def atlas_store(tmp_path_factory):
    """Lite0's units 945 (bell pepper), 0, 1 on the authors' 300 images, serial, with its site."""
    store = tmp_path_factory.mktemp("atlas") / "serial"
    proc = atlas("--units", ATLAS_UNITS, "--out", str(store), "--workers", "1", *ATLAS_BASE)
    assert proc.returncode == 0, proc.stderr[-3000:]
    site = atlas("site", str(store))
    assert site.returncode == 0, site.stderr[-2000:]
    return store


# ------------------------------------------------------------------ the suite leaves no process behind
_STARTED = time.time()


def _ours(p, me) -> bool:
    """A process this test session started: below pytest, or an orphan of it: started since, with
    this checkout's Python or this repository in its command line, and re-parented (every ancestor
    but init started since too). Another job of the same checkout (a notebook run in a second
    shell) has a parent that predates the session: not ours, never killed."""
    try:
        if p.pid == me.pid or p.create_time() < _STARTED - 1:
            return False
        line = " ".join(p.cmdline())
        if "multiprocessing.resource_tracker" in line or "multiprocessing.forkserver" in line:
            return False  # pytest's own multiprocessing helpers: they end with it (EOF on their pipe)
        if me in p.parents():
            return True
        if not (sys.prefix in line or str(REPO) in line):
            return False
        return all(a.pid == 1 or a.create_time() >= _STARTED - 1 for a in p.parents())
    except Exception:  # gone, or not ours to read
        return False


def leftover_processes(wait: float = 15.0) -> list[str]:
    """What this session started and left running, after up to ``wait`` s for it to exit; killed."""
    import psutil

    me = psutil.Process()
    left = [p for p in psutil.process_iter() if _ours(p, me)]
    _, alive = psutil.wait_procs(left, timeout=wait)
    report = []
    for p in alive:
        try:
            report.append(f"{p.pid} {' '.join(p.cmdline())[:160]}")
            p.kill()
        except psutil.Error:
            pass
    return report


def pytest_sessionfinish(session, exitstatus):
    """Fail the run if any test left a process of it running (a server, a worker, a kernel)."""
    if hasattr(session.config, "workerinput"):
        return
    left = leftover_processes()
    if left:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        lines = ["the test session left these processes running (now killed):", *left]
        if reporter:
            reporter.write_line("\n".join(lines), red=True)
        else:
            print("\n".join(lines), file=sys.stderr)
        session.exitstatus = 1


# ------------------------------------------------------------------ servers on 127.0.0.1
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(cmd, port, cwd, env=None, deadline=90.0, log=None):
    """Start a server and wait until its port answers; returns the process. Its output goes to
    ``log`` (a file) or a pipe."""
    proc = subprocess.Popen(cmd, cwd=cwd, env=env or dict(os.environ), stdout=log or subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    t0 = time.time()
    while time.time() - t0 < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {proc.stdout.read()[-2000:] if proc.stdout else proc.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return proc
        time.sleep(0.3)
    proc.kill()
    raise RuntimeError(f"server did not answer on port {port} within {deadline:.0f} s")
