import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
# Tests read the real data through the project's own pooch code; offline, point it at the
# shared folder beside the checkout (CI's .ci/run sets it the same way).
if not os.environ.get("MFV_DATA_DIR") and SHARED.is_dir():
    os.environ["MFV_DATA_DIR"] = str(SHARED)


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
