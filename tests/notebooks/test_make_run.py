"""``make run`` (the README's first command) leaves the repository as it found it: notebook 01's
folder goes under ``build/``, and the run ends with its numbers beside the committed folder's."""
import json
import os
import subprocess

from ..conftest import REPO


def _status() -> str:
    return subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=REPO,
                          capture_output=True, text=True, check=True).stdout


def test_make_run_leaves_git_status_as_it_was_and_compares_with_the_committed_run():
    """The Makefile's own run target (smoke, to keep CI short: the same command and folders)."""
    before = _status()
    proc = subprocess.run(["make", "-s", "run", "RUN_ARGS=--smoke --quiet"], cwd=REPO, env=dict(os.environ),
                          capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert _status() == before  # nothing committed was rewritten, nothing new left untracked
    out = REPO / "build" / "01_bell_pepper_tsne"
    assert json.loads((out / "metrics.json").read_text())["smoke"] is True
    assert (out / "fig2_tsne_facets.png").is_file()
    lines = proc.stdout.splitlines()
    assert any(line.startswith("your run (build/01_bell_pepper_tsne) beside the committed one") for line in lines)
    row = next(line for line in lines if line.startswith("facet_identity ")).split()
    committed = json.loads((REPO / "figures" / "01_bell_pepper_tsne" / "metrics.json").read_text())
    assert float(row[2]) == committed["fidelity"]["facet_identity"]  # read from the committed folder
    assert "not comparable" in proc.stdout  # a smoke run is told apart from the committed full run


def test_reproduce_judges_differences_by_the_stated_spread(tmp_path):
    from mfv_utils import reproduce

    committed = json.loads((REPO / "figures" / "01_bell_pepper_tsne" / "metrics.json").read_text())
    yours = json.loads(json.dumps(committed))
    yours["fidelity"]["facet_identity"] = round(committed["fidelity"]["facet_identity"] - 0.1, 4)
    yours["fidelity"]["judge_top5"] = committed["fidelity"]["judge_top5"] - 3
    verdicts = {r["measure"]: r["verdict"] for r in reproduce.rows(yours, committed)}
    assert verdicts["facet_identity"] == "within the spread"
    assert verdicts["judge_top5"].startswith("OUTSIDE")
    assert verdicts["cluster_sizes"] == "same clusters"
    assert reproduce.main([str(tmp_path)]) == 2  # no metrics.json: a one-line error, exit 2
