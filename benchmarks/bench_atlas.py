"""The atlas engine's cost: units per hour on the embedded default (a Dask LocalCluster, one worker
per core) against a serial loop over the same units in one process, one run each, same machine.

    python benchmarks/bench_atlas.py [--units 0-5] [--workers N] [--smoke]

Both arms render the same units into fresh stores (the pool's codes are cached beforehand, so
neither pays for them; each loads the models and the pool as a fresh run does: the serial loop
once, every worker once) and must give byte-identical files. Per-unit task seconds (inside the
task; a worker's first task includes loading its models) are reported for both arms too: the
ratio of their medians is what running inside a Dask worker costs a unit, apart from start-up. Goal (issue 21): cluster rate >=
0.9 x cores x serial rate (the engine costs under 10 %). Also prints the projected time of all
1,000 class units and of all 1,280 pooled units of Lite0 on this machine and per worker.
Absolute times differ 2x between machines here: read the ratio.

A run's time is a fixed start-up (the client's, then each worker's first task) plus units x the
per-task time / workers, so the rate on a few units understates the rate of a long run. Besides
the end-to-end efficiency of the units run, the report gives the steady-state efficiency (the
ratio of median task times, what a 1,000-unit run converges to), each arm's start-up (its wall
time less units x median task / workers) and projections from that model. Both arms run with
torch's blocks on transparent huge pages, as the engine's workers do (atlas.WORKER_CONFIG): the
serial loop must not be the slower for lacking a setting the engine has.
"""
import os

os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")  # read once, by torch: before it is imported

import argparse  # noqa: E402
import json  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from mfv_utils import atlas  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--units", default="0-5")
    ap.add_argument("--workers", type=int, default=os.cpu_count())
    ap.add_argument("--smoke", action="store_true")
    args = ap.parse_args()
    units = atlas.parse_units(args.units)
    spec = atlas.Spec(smoke=args.smoke)
    with atlas.one_thread():
        atlas.context(atlas.Spec(**{**spec.__dict__, "cache": str(Path(spec.cache).resolve())}))  # codes cached
    seconds, stores, manifests = {}, {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, workers in (("serial", 1), (f"LocalCluster({args.workers})", args.workers)):
            stores[name] = Path(tmp) / name.replace("(", "").replace(")", "")
            atlas._CONTEXT.clear()  # each arm loads the models and the pool, as a fresh run does
            t0 = time.perf_counter()
            manifest = manifests[name] = atlas.run(spec, units, stores[name], workers=workers, progress=False)
            seconds[name] = time.perf_counter() - t0
            assert not manifest["runs"][-1]["failed"], manifest["runs"][-1]
        cluster_arm = list(seconds)[1]
        same = all((stores["serial"] / "units" / str(u) / f.name).read_bytes() == f.read_bytes()
                   for u in units for f in (stores[cluster_arm] / "units" / str(u)).iterdir())
    task = {name: float(np.mean([e["seconds"] for e in m["units"].values()])) for name, m in manifests.items()}
    median = {name: float(np.median([e["seconds"] for e in m["units"].values()])) for name, m in manifests.items()}
    serial, cluster = seconds["serial"], seconds[cluster_arm]
    rate_serial, rate_cluster = 3600 * len(units) / serial, 3600 * len(units) / cluster
    efficiency = rate_cluster / (args.workers * rate_serial)
    steady = median["serial"] / median[cluster_arm]  # per-worker task rate against the serial loop's
    start = {"serial": serial - len(units) * median["serial"],
             cluster_arm: cluster - len(units) * median[cluster_arm] / args.workers}

    def hours(n, arm, workers):  # the model above: start-up + n tasks shared by the workers
        return round((start[arm] + n * median[arm] / workers) / 3600, 1)

    report = {
        "units": len(units), "workers": args.workers, "smoke": args.smoke,
        "seconds": {k: round(v, 1) for k, v in seconds.items()},
        "units_per_hour": {"serial (one core)": round(rate_serial, 1), "cluster": round(rate_cluster, 1)},
        "efficiency_vs_cores_x_serial": round(efficiency, 3), "goal_ge_0.9": efficiency >= 0.9,
        "efficiency_steady_state": round(steady, 3), "goal_ge_0.9_steady_state": steady >= 0.9,
        "start_up_seconds": {k: round(v, 1) for k, v in start.items()},
        "byte_identical": same,
        "task_seconds_mean": {k: round(v, 1) for k, v in task.items()},
        "task_seconds_median": {k: round(v, 1) for k, v in median.items()},
        "task_median_cluster_over_serial": round(median[cluster_arm] / median["serial"], 3),
        "projected_hours": {f"{n} {what}": {"this machine": hours(n, cluster_arm, args.workers),
                                            "per worker": hours(n, "serial", 1)}
                            for n, what in ((1000, "class units"), (1280, "pooled units"))},
    }
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
