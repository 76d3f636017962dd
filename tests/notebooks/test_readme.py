"""The README's links lead somewhere in a clone, and the executed notebooks it links are the
committed full runs of their figure folders (a reader opens them to read narrative and figures
together)."""
import json
import re
import subprocess
from pathlib import Path

import nbformat
import pytest

from mfv_utils.run import default_parameter

from ..conftest import REPO

README = (REPO / "README.md").read_text()
LINKS = sorted({m for m in re.findall(r"\]\(([^)#\s]+)", README) if "://" not in m})
NOTEBOOKS = [link for link in LINKS if link.endswith(".ipynb")]
DOCS = sorted((REPO / "docs").glob("*.md"))


def _tracked():
    """Files git tracks (a clone has exactly these), or None outside a git checkout."""
    try:
        out = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    return set(out.stdout.decode().split("\0"))


def test_every_relative_link_of_the_readme_is_a_committed_file():
    assert len(NOTEBOOKS) >= 10  # one per figure folder
    tracked = _tracked()
    missing = [link for link in LINKS if not (REPO / link).exists()
               or (tracked is not None and (REPO / link).is_file() and link not in tracked)]
    assert not missing, f"README links to files a clone lacks: {missing}"


def test_the_readme_is_read_at_a_glance_and_every_docs_page_is_linked_and_links_somewhere():
    """README under 200 lines (issue 30); each docs/ page linked from it; each relative link of a
    page (images included) a file of the clone."""
    assert len(README.splitlines()) < 200
    assert len(DOCS) >= 8 and all(f"docs/{p.name}" in LINKS for p in DOCS)
    tracked = _tracked()
    for page in DOCS:
        links = {m for m in re.findall(r"\]\(([^)#\s]+)", page.read_text()) if "://" not in m}
        resolved = {link: (page.parent / link).resolve() for link in links}
        missing = [link for link, path in resolved.items() if not path.exists() or (
            tracked is not None and path.is_file() and str(path.relative_to(REPO)) not in tracked)]
        assert not missing, f"{page.name} links to files a clone lacks: {missing}"


@pytest.mark.parametrize("link", NOTEBOOKS)
def test_a_linked_executed_notebook_is_its_folders_full_run(link):
    """Executed with no error, figures inline, not a smoke run, into its own folder, whose
    metrics.json is a full run too."""
    path = REPO / link
    nb = nbformat.read(path, as_version=4)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"], link
    assert sum("image/jpeg" in o.get("data", {}) for o in outputs) >= 2, link  # figures inline, as JPEG
    assert not any("image/png" in o.get("data", {}) for o in outputs), link
    params = nb.metadata["papermill"]["parameters"]
    assert not params.get("smoke", False), link
    # where the run wrote its figures: the rule run_notebook copies the notebook by
    assert Path(params.get("out_dir", default_parameter(path, "out_dir"))) == Path(link).parent, link
    assert json.loads((path.parent / "metrics.json").read_text()).get("smoke") is False, link
