"""Claims over seeds (issue 32): the statistics of a measure over seeds, the paths into a
``metrics.json``, and a real smoke pass of ``python -m mfv_utils.claims`` (notebook 01 on bell
pepper at 2 seeds, and at 1 thread): resumable, the same bytes when a run is redone, the page's
table generated from ``claims.json``."""
import json
import shutil
import subprocess
import sys

import pytest

from mfv_utils.claims import report, spec, stats

from ..conftest import REPO


def test_a_goal_is_met_by_the_mean_and_the_seeds_say_how_often_it_holds():
    s = stats.summarize([0.8, 0.7, 0.9], low=0.8)
    assert s["mean"] == 0.8 and s["min"] == 0.7 and s["max"] == 0.9 and s["met"]
    assert s["holds_on"] == "2/3" and s["verdict"] == "mixed" and s["sure"] == "across"
    assert s["min"] <= s["ci95"][0] <= s["mean"] <= s["ci95"][1] <= s["max"]
    assert stats.summarize([0.8, 0.7, 0.9], low=0.8) == s  # the interval's resampling is seeded
    missed = stats.summarize([0.5, 0.7], high=0.55)
    assert not missed["met"] and missed["holds_on"] == "1/2" and missed["verdict"] == "mixed"
    assert stats.summarize([0.9, 0.95], low=0.8)["sure"] == "inside"
    assert stats.summarize([True, True], boolean=True)["verdict"] == "holds"
    assert stats.summarize([False, False, False], boolean=True)["verdict"] == "does not hold"
    assert "verdict" not in stats.summarize([0.3, 0.4])  # a number with no goal: only its spread


def test_a_measure_reads_rows_of_lists_and_divides_counts_by_k():
    metrics = {"k": 10, "methods": [{"method": "paper", "above_real": 0.1}, {"method": "facet", "above_real": 0.9}],
               "fidelity": {"judge_top5": 9}}
    assert report.read(metrics, "methods[method=facet].above_real") == 0.9
    top5 = next(m for m in spec.measures() if m.name == "bell pepper: judge_top5")
    assert report.value(metrics, top5) == 0.9
    with pytest.raises(ValueError, match="null"):
        report.value({"ari_vs_reference": None}, next(m for m in spec.measures() if "ARI" in m.name))
    with pytest.raises(ValueError, match=r"goals.facet.x: no 'facet' in this metrics.json \(there: facet_win\)"):
        report.read({"goals": {"facet_win": {"x": 1}}}, "goals.facet.x")
    with pytest.raises(ValueError, match=r"no row of 'methods' with method=maco \(there: paper, facet\)"):
        report.read(metrics, "methods[method=maco].above_real")


def test_every_measure_names_a_run_of_its_pass():
    for smoke in (False, True):
        names = {r.name for r in spec.runs(smoke)}
        assert {m.run for m in spec.measures(smoke)} <= names
    assert len(spec.measures()) > 60 and {r.notebook for r in spec.runs()} >= {
        "01_bell_pepper_tsne", "02_hidden_layer_facets", "03_interpolation_study", "04_prior_comparison",
        "05_hidden_unit_attribution"}
    # notebook 01's six classes again with facet_win: their own section, read from facet_win's row
    win = [m for m in spec.measures() if m.run.endswith("_win")]
    assert len(win) == 6 * (len(spec.CLASS_GOALS) + 1) and {m.section for m in win} == {"01 class facets, facet_win"}
    assert {r.params["method"] for r in spec.runs() if r.name.endswith("_win")} == {"facet_win"}
    above = next(m for m in win if m.name == "church (facet_win): above_real")
    assert report.read({"methods": [{"method": "facet", "above_real": 0.5}, {"method": "facet_win", "above_real": 1.0}]},
                       above.path) == 1.0


def test_every_measure_of_a_whole_notebook_run_reads_the_committed_run():
    """A measure's path is checked against the committed figure's metrics.json of the same
    notebook (02-05 run as committed, with their default method): a path keyed by a method the
    notebook no longer draws with (``goals.facet`` once notebook 02 took facet_win) fails here,
    not at the end of an hour's pass."""
    runs = {r.name: r for r in spec.runs()}
    checked = 0
    for m in spec.measures():
        if m.run in ("02", "03", "04", "05"):
            committed = json.loads((REPO / "figures" / runs[m.run].notebook / "metrics.json").read_text())
            report.read(committed, m.path)
            checked += 1
    assert checked >= 12


def _claims(tmp, *extra):
    cmd = [sys.executable, "-m", "mfv_utils.claims", "--smoke", "--seeds", "2", "--out", str(tmp / "runs"),
           "--json", str(tmp / "claims.json"), "--png", str(tmp / "claims.png"), "--page", str(tmp / "page.md"),
           "--quiet", *extra]
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=1800)


def test_a_smoke_pass_is_resumable_and_its_page_is_generated(tmp_path):
    (tmp_path / "page.md").write_text(f"# Claims\n\n{report.BEGIN}\nPLACEHOLDER-TABLE\n{report.END}\n\nafter\n")
    proc = _claims(tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "4 notebook runs to do, 0 reused" in proc.stdout
    claims = json.loads((tmp_path / "claims.json").read_text())
    assert claims["seeds"] == [0, 1] and claims["smoke"]
    rows = {m["name"]: m for m in claims["measures"]}
    assert len(rows) == 2 * 8 + 1  # bell pepper's 8 measures and its ARI, and the 8 at 1 thread
    identity = rows["bell pepper: facet_identity"]
    assert identity["n_seeds"] == 2 and identity["goal"] == [0.8, None] and identity["verdict"] in (
        "holds", "mixed", "does not hold")
    assert {r["name"]: r["threads"] for r in claims["runs"]}["01_bell_pepper_1thread"] == [1]
    assert set(claims["thread_spread"]) >= {"facet_identity", "color_distance"}
    page = (tmp_path / "page.md").read_text()
    assert page.startswith("# Claims") and page.rstrip().endswith("after") and "PLACEHOLDER-TABLE" not in page
    assert report.generated(page) == report.markdown(claims)
    assert (tmp_path / "claims.png").read_bytes()[:4] == b"\x89PNG"
    # a run killed before its metrics were whole (here: one removed, one cut short) is redone, alone
    runs = sorted((tmp_path / "runs").glob("01_bell_pepper_1thread-*"))[0]
    (runs / "seed1" / "metrics.json").unlink()
    again = _claims(tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "1 notebook runs to do, 3 reused" in again.stdout
    assert json.loads((tmp_path / "claims.json").read_text()) == claims  # the same seed and threads: the same numbers
    # --report-only rewrites the page from claims.json without running anything
    (tmp_path / "page.md").write_text(f"{report.BEGIN}\n{report.END}\n")
    only = _claims(tmp_path, "--report-only")
    assert only.returncode == 0 and report.generated((tmp_path / "page.md").read_text()) == report.markdown(claims)
    shutil.rmtree(tmp_path / "runs")


def test_a_page_without_markers_and_a_single_seed_are_one_line_errors(tmp_path):
    (tmp_path / "page.md").write_text("no markers\n")
    (tmp_path / "claims.json").write_text(json.dumps({"seeds": [0, 1], "smoke": True, "runs": [], "measures": [],
                                                      "thread_spread": {}}))
    proc = _claims(tmp_path, "--report-only")
    assert proc.returncode == 2 and proc.stderr.startswith("error: the page has no claims markers")
    proc = subprocess.run([sys.executable, "-m", "mfv_utils.claims", "--seeds", "1"], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "at least 2 seeds" in proc.stderr


def test_the_committed_table_is_generated_from_the_committed_claims():
    """docs/claims.md's table is report.markdown(figures/claims.json), not typed; the README links it."""
    claims = json.loads((REPO / "figures" / "claims.json").read_text())
    assert report.generated((REPO / "docs" / "claims.md").read_text()) == report.markdown(claims)
    assert "docs/claims.md" in (REPO / "README.md").read_text()


def test_a_class_measured_with_two_recipes_gets_its_means_side_by_side():
    def row(name, mean, holds=None):
        return {"name": name, "section": "s", "mean": mean, "min": mean, "max": mean, "ci95": [mean, mean],
                **({"holds_on": holds} if holds else {})}
    claims = {"seeds": [0, 1], "smoke": False, "thread_spread": {}, "runs": [], "measures": [
        row("church: facet_identity", 0.76, "3/5"), row("church (facet_win): facet_identity", 0.8, "4/5"),
        row("church: above_real", 0.96), row("church (facet_win): above_real", 1.0),
        row("tench: facet_identity", 0.9, "5/5")]}  # measured with one recipe only: not in the block
    block = report.side_by_side(claims)
    assert "| church | 0.76 (3/5) → 0.8 (4/5) | 0.96 → 1 |" in block
    assert not any(line.startswith("| tench") for line in block)
    assert "\n".join(block) in report.markdown(claims)
    assert report.side_by_side({**claims, "measures": claims["measures"][-1:]}) == []
