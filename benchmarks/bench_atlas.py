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
"""
import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from mfv_utils import atlas


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
        same = all((stores["serial"] / "units" / str(u) / f.name).read_bytes() == f.read_bytes()
                   for u in units for f in (list(stores.values())[1] / "units" / str(u)).iterdir())
    task = {name: float(np.mean([e["seconds"] for e in m["units"].values()])) for name, m in manifests.items()}
    median = {name: float(np.median([e["seconds"] for e in m["units"].values()])) for name, m in manifests.items()}
    serial, cluster = seconds["serial"], list(seconds.values())[1]
    rate_serial, rate_cluster = 3600 * len(units) / serial, 3600 * len(units) / cluster
    efficiency = rate_cluster / (args.workers * rate_serial)
    report = {
        "units": len(units), "workers": args.workers, "smoke": args.smoke,
        "seconds": {k: round(v, 1) for k, v in seconds.items()},
        "units_per_hour": {"serial (one core)": round(rate_serial, 1), "cluster": round(rate_cluster, 1)},
        "efficiency_vs_cores_x_serial": round(efficiency, 3), "goal_ge_0.9": efficiency >= 0.9,
        "byte_identical": same,
        "task_seconds_mean": {k: round(v, 1) for k, v in task.items()},
        "task_seconds_median": {k: round(v, 1) for k, v in median.items()},
        "task_median_cluster_over_serial": round(list(median.values())[1] / median["serial"], 3),
        "projected_hours": {"1000 class units": {"this machine": round(1000 / rate_cluster, 1),
                                                 "per worker": round(1000 / rate_serial, 1)},
                            "1280 pooled units": {"this machine": round(1280 / rate_cluster, 1),
                                                  "per worker": round(1280 / rate_serial, 1)}},
    }
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
