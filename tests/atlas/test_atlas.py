"""The atlas (mfv_utils.atlas) through its CLI, for real: Lite0's class units on the authors' 300
images as the pool, smoke-length optimization. Serial and Dask runs give the same bytes; a run
killed with SIGKILL resumes and recomputes only what was unfinished; a unit that cannot be
rendered is recorded and the run goes on; a store is never silently reused for other inputs;
any timm classifier with a local weights file runs through it."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from ..conftest import REPO

from ..conftest import ATLAS_BASE as BASE
from ..conftest import ATLAS_UNITS as UNITS
from ..conftest import atlas


def files(store):
    return {p.relative_to(store).as_posix(): p.read_bytes() for p in sorted((store / "units").rglob("*"))
            if p.is_file() and p.suffix in (".json", ".jpg")}


@pytest.fixture(scope="module")
def serial_store(atlas_store):
    return atlas_store


def test_a_unit_folder_holds_its_facets_thumbnails_and_numbers(serial_store):
    manifest = json.loads((serial_store / "manifest.json").read_text())
    assert {u: e["status"] for u, e in manifest["units"].items()} == {"945": "done", "0": "done", "1": "done"}
    record = json.loads((serial_store / "units" / "945" / "unit.json").read_text())
    assert record["name"] == "bell pepper" and record["k"] == 4 and record["drawn"] == 4
    # the pool holds the class's 150 images (>= 50): its facets are of all of them (Fig. S4 rule)
    assert record["images"] == "own class" and record["own_class_images_in_pool"] == 150
    assert record["own_class_share"] == 1.0 and not record["mostly_other_classes"]
    assert len(record["facets"]) == 4 and sum(f["size"] for f in record["facets"]) == 150
    assert record["strongest_real"] >= record["top_act_max"]
    for u in ("0", "1"):  # tench and goldfish: none of their images in this pool; their top 40, flagged
        other = json.loads((serial_store / "units" / u / "unit.json").read_text())
        assert other["images"] == "top images" and other["n_top"] == 40 and other["own_class_share"] == 0.0
        assert other["mostly_other_classes"] and other["n_classes"] == 2  # bell pepper and movie theater
    sizes = [f["size"] for f in record["facets"]]
    assert sizes == sorted(sizes, reverse=True)  # the largest facet first
    assert all(f["act_end"] > f["act_start"] for f in record["facets"])  # the method drove the unit
    for j in range(4):
        for name in (f"facet_{j}.jpg", f"members_{j}.jpg"):
            assert (serial_store / "units" / "945" / name).read_bytes()[:2] == b"\xff\xd8"  # JPEG


def test_serial_and_a_two_worker_local_cluster_give_the_same_bytes(serial_store, tmp_path):
    store = tmp_path / "cluster"
    proc = atlas("--units", UNITS, "--out", str(store), "--workers", "2", *BASE)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "LocalCluster(2)" in proc.stdout
    a, b = files(serial_store), files(store)
    assert a.keys() == b.keys() and len(a) == 3 * 9
    assert [k for k in a if a[k] != b[k]] == []


def test_a_worker_reads_only_what_it_needs_of_the_pool(serial_store, tmp_path):
    """What the engine sends every worker (pool_ref) gives a context with the client's identity
    and codes and the pool's pixels read lazily, equal to the decoded pool; a worker that cannot
    see the column file loads the whole context itself, with the same identity."""
    import numpy as np

    from mfv_utils import atlas as engine
    from mfv_utils import data

    spec = engine.Spec(pool=("paper",), cache=str(REPO / ".cache" / "codes"))  # cached by serial_store
    try:
        with engine.one_thread():
            full = dict(engine.context(spec))
        ref = engine.pool_ref(full)
        engine.tasks._CONTEXT.clear()
        light = engine.worker_context(spec, ref)
        assert isinstance(light["pool"].images, data.LazyImages) and not isinstance(full["pool"].images,
                                                                                     data.LazyImages)
        assert light["identity"] == full["identity"] and np.array_equal(light["column"], full["column"])
        idx = np.array([299, 0, 150])
        assert torch.equal(light["pool"].images[idx], full["pool"].images[idx])
        assert light["pool"].paths == full["pool"].paths and np.array_equal(light["pool"].classes,
                                                                             full["pool"].classes)
        engine.tasks._CONTEXT.clear()
        blind = engine.worker_context(spec, {**ref, "column": str(tmp_path / "elsewhere.npy")})
        assert isinstance(blind["pool"].images, torch.Tensor) and blind["identity"] == full["identity"]
    finally:
        engine.tasks._CONTEXT.clear()


def test_the_local_cluster_workers_get_one_malloc_arena_huge_pages_and_no_profiler():
    """atlas.WORKER_CONFIG names settings Dask really applies to a worker process (a misspelt
    key would be ignored without a word): one malloc arena, torch's huge pages, no profiler,
    slower clocks."""
    from distributed import Client

    from mfv_utils import atlas as engine

    def seen():
        import dask as worker_dask

        return (os.environ.get("MALLOC_ARENA_MAX"), os.environ.get("THP_MEM_ALLOC_ENABLE"),
                worker_dask.config.get("distributed.worker.profile.enabled"),
                worker_dask.config.get("distributed.admin.tick.interval"))

    before = dict(os.environ)
    with engine.local_cluster(1) as cluster, Client(cluster) as client:
        assert list(client.run(seen).values()) == [("1", "1", False, "1s")]
    # Dask's nanny wrote OMP_NUM_THREADS=1 & co. into this process's environment; they are taken
    # back, so later children (a notebook kernel) keep every thread (t-SNE's clusters depend on it)
    assert dict(os.environ) == before


def test_a_killed_run_resumes_and_recomputes_only_unfinished_units(serial_store, tmp_path):
    store = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "mfv_utils.atlas", "--units", UNITS, "--out", str(store),
                             "--workers", "1", *BASE], cwd=REPO, env=dict(os.environ),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while not (store / "units" / "945" / "unit.json").exists():
        assert proc.poll() is None and time.time() < deadline, "the run ended before it could be killed"
        time.sleep(0.2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = {p.name for p in (store / "units").iterdir() if (p / "unit.json").is_file()}
    assert "945" in done_before and len(done_before) < 3
    stamp = (store / "units" / "945" / "unit.json").stat().st_mtime_ns
    resumed = atlas("--units", UNITS, "--out", str(store), "--workers", "1", *BASE)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    last = json.loads((store / "manifest.json").read_text())["runs"][-1]
    assert last["reused"] == len(done_before) and sorted(last["computed"]) == sorted(
        int(u) for u in UNITS.split(",") if u not in done_before)
    assert (store / "units" / "945" / "unit.json").stat().st_mtime_ns == stamp  # not rewritten
    assert files(store) == files(serial_store)  # the same result as the uninterrupted run
    assert not [p for p in (store / "units").iterdir() if p.name.startswith(".")]  # no temporary folder left


def test_a_damaged_store_is_never_served_and_the_next_run_recomputes_it(serial_store, tmp_path):
    """Issue 33's store faults: a truncated unit.json (unit 945), a missing member strip (unit 0) and
    a facet image cut short (unit 1), as a disk filled mid-write or an interrupted copy leaves them.
    The site lists all three as damaged (no card, no page: the old site carded 0 and 1 with broken
    images and crashed on 945), and the next run recomputes exactly them, back to the same bytes."""
    import shutil

    store = tmp_path / "damaged"
    shutil.copytree(serial_store, store)
    unit_json = store / "units" / "945" / "unit.json"
    unit_json.write_bytes(unit_json.read_bytes()[:200])
    (store / "units" / "0" / "members_1.jpg").unlink()
    facet = store / "units" / "1" / "facet_0.jpg"
    facet.write_bytes(facet.read_bytes()[:-500])
    for u in ("0", "1"):
        (store / "units" / u / "index.html").unlink(missing_ok=True)
    site = atlas("site", str(store))
    assert site.returncode == 0, site.stderr[-2000:]
    index = (store / "index.html").read_text()
    assert "class='card'" not in index and index.count("damaged in the store") == 3
    assert "members_1.jpg is missing" in index and "facet_0.jpg is cut short" in index
    assert "unreadable unit.json" in index
    assert not (store / "units" / "0" / "index.html").exists()
    assert len([line for line in site.stderr.splitlines() if line.startswith("warning: ")]) == 3
    again = atlas("--units", UNITS, "--out", str(store), "--workers", "1", *BASE)
    assert again.returncode == 0, again.stderr[-3000:]
    last = json.loads((store / "manifest.json").read_text())["runs"][-1]
    assert last["recomputed_damaged"] == [0, 1, 945] and sorted(last["computed"]) == [0, 1, 945]
    assert "unit 0 is damaged in the store (members_1.jpg is missing): recomputing it" in again.stderr
    assert files(store) == files(serial_store)


def test_a_unit_that_cannot_be_rendered_is_recorded_and_the_run_goes_on(tmp_path):
    """AlexNet with random weights (saved to disk): fc7 unit 0 never fires on the 300 images
    (1,060 of its 4,096 units are dead), units 1 and 3 do."""
    torch.manual_seed(0)
    import torchvision

    weights = tmp_path / "alexnet_random.pth"
    torch.save(torchvision.models.alexnet(weights=None).state_dict(), weights)
    store = tmp_path / "alexnet"
    proc = atlas("--model", "alexnet", "--weights", str(weights), "--layer", "fc7", "--units", "0,1,3",
                 "--out", str(store), "--workers", "1", "--draw", "1", *BASE)
    assert proc.returncode == 0, proc.stderr[-3000:]
    manifest = json.loads((store / "manifest.json").read_text())
    assert manifest["units"]["0"]["status"] == "failed"
    reason = manifest["units"]["0"]["reason"]
    assert "never fires on the pool" in reason and "\n" not in reason
    assert "unit 0 failed: ValueError: unit 0 never fires" in proc.stderr
    assert [manifest["units"][u]["status"] for u in ("1", "3")] == ["done", "done"]


def test_a_store_is_never_silently_reused_for_other_inputs(serial_store, tmp_path):
    import shutil

    store = tmp_path / "copy"
    shutil.copytree(serial_store, store)
    other_layer = atlas("--layer", "pool", "--units", "1", "--out", str(store), "--workers", "1", *BASE)
    assert other_layer.returncode == 2
    assert other_layer.stderr.strip().splitlines()[-1] == (
        f"error: {store} holds the atlas of efficientnet_lite0 logits; this run asks for efficientnet_lite0 pool: "
        "use another --out")
    reseeded = atlas("--units", "945", "--out", str(store), "--workers", "1", "--seed", "1", *BASE)
    assert reseeded.returncode == 0, reseeded.stderr[-3000:]
    assert "1 stored units were made from other inputs: recomputing them" in reseeded.stderr
    last = json.loads((store / "manifest.json").read_text())["runs"][-1]
    assert last["reused"] == 0 and last["computed"] == [945]
    old = json.loads((serial_store / "units" / "945" / "unit.json").read_text())
    new = json.loads((store / "units" / "945" / "unit.json").read_text())
    assert new["key"] != old["key"] and new["seed"] == 1


def test_any_timm_classifier_with_a_local_weights_file(tmp_path):
    import timm

    torch.manual_seed(0)
    weights = tmp_path / "resnet18_random.pth"
    torch.save(timm.create_model("resnet18", pretrained=False).state_dict(), weights)
    store = tmp_path / "resnet18"
    proc = atlas("--model", "resnet18", "--weights", str(weights), "--layer", "fc", "--units", "3",
                 "--out", str(store), "--workers", "1", "--draw", "2", *BASE, "--k", "auto")
    assert proc.returncode == 0, proc.stderr[-3000:]
    record = json.loads((store / "units" / "3" / "unit.json").read_text())
    assert record["model"] == "resnet18" and record["layer"] == "fc" and record["drawn"] == 2
    # --k auto: the facet count the silhouette picks
    assert record["k_asked"] == "auto" and record["k"] == record["k_by_silhouette"] == len(record["facets"])
    site = atlas("site", str(store))
    assert site.returncode == 0 and (store / "index.html").is_file()


@pytest.mark.parametrize("args,words", [
    (["--units", "5-2", "--out", "x"], "the end is before the start"),
    (["--units", "a", "--out", "x"], "bad --units 'a'"),
    (["--units", "1000", "--out", "x"] + BASE, "units [1000] out of range for layer 'logits'"),
    (["site", "/nonexistent/store"], "is not an atlas store"),
])
def test_bad_input_is_a_one_line_error(args, words):
    proc = atlas(*args)
    assert proc.returncode == 2 and words in proc.stderr, proc.stderr[-2000:]
    assert len(proc.stderr.strip().splitlines()) == 1
