import os
import subprocess
import sys
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
    from mfv_utils.models import load_model

    return load_model("efficientnet_lite0")


@pytest.fixture(scope="session")
def bell_pepper():
    from mfv_utils.data import load_image_set

    return load_image_set("paper:bell_pepper")


@pytest.fixture(scope="session")
def movie_theater():
    from mfv_utils.data import load_image_set

    return load_image_set("paper:movie_theater")
