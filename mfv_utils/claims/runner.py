"""Run every claim's notebook once per seed, resumably: each (run, seed) writes into its own
folder, keyed by the run's content (notebook, parameters, threads, smoke), and a folder whose
``metrics.json`` is whole is reused, so a killed pass picks up where it stopped and a changed
run is never read from a stale folder."""
from __future__ import annotations

import hashlib
import json
import os
import time
from contextlib import contextmanager
from pathlib import Path

from mfv_utils.claims.spec import Run
from mfv_utils.runtime.progress import bar

THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")


def run_key(run: Run, smoke: bool) -> str:
    blob = json.dumps({"notebook": run.notebook, "params": run.params, "threads": run.threads, "smoke": smoke},
                      sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:10]


def folder(out: str | Path, run: Run, seed: int, smoke: bool) -> Path:
    return Path(out) / f"{run.name}-{run_key(run, smoke)}" / f"seed{seed}"


def cached(path: Path, seed: int) -> dict | None:
    """A run's ``metrics.json`` if it is whole and of this seed, else None (a run killed while
    writing it leaves a file that does not parse: it is run again)."""
    try:
        metrics = json.loads((path / "metrics.json").read_text())
    except (OSError, ValueError):
        return None
    return metrics if isinstance(metrics, dict) and metrics.get("seed") == seed else None


@contextmanager
def threads(n: int | None):
    """The kernels started inside see ``n`` threads (torch reads OMP_NUM_THREADS at import)."""
    before = {v: os.environ.get(v) for v in THREAD_VARS}
    if n is not None:
        os.environ.update({v: str(n) for v in THREAD_VARS})
    try:
        yield
    finally:
        for v, old in before.items():
            if old is None:
                os.environ.pop(v, None)
            else:
                os.environ[v] = old


def run_all(runs: list[Run], seeds: list[int], out: str | Path, smoke: bool = False,
            progress: bool = True) -> dict:
    """Every (run, seed) not yet in ``out``; returns ``{run name: {seed: metrics}}`` and prints
    what it reused. A failing notebook stops the pass with its error (what ran stays cached)."""
    from mfv_utils.run import run_notebook

    todo = [(r, s) for r in runs for s in seeds if cached(folder(out, r, s, smoke), s) is None]
    reused = len(runs) * len(seeds) - len(todo)
    print(f"claims: {len(todo)} notebook runs to do, {reused} reused from {out}", flush=True)
    progress_bar = bar(len(todo), "claims", enabled=progress)
    for run, seed in todo:
        path = folder(out, run, seed, smoke)
        path.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        with threads(run.threads):
            run_notebook(run.notebook, {**run.params, "seed": seed, "out_dir": str(path)}, smoke=smoke,
                         build_dir=path / "_build", progress="quiet")
        (path / "seconds.txt").write_text(f"{time.perf_counter() - t0:.1f}\n")
        progress_bar.update(1)
    progress_bar.close()
    results = {}
    for run in runs:
        results[run.name] = {}
        for seed in seeds:
            metrics = cached(folder(out, run, seed, smoke), seed)
            if metrics is None:
                raise RuntimeError(f"{run.name} seed {seed}: no whole metrics.json after its run")
            results[run.name][seed] = metrics
    return results
