"""The teaching app and JupyterLab in a real browser: Debian's Chromium driven by Playwright.

Voila serves the explorer pages of ``make teach`` (``mfv_utils.teach``) on a free 127.0.0.1
port, over the committed figure runs (``MFV_TEACH_FIGURES`` points it at another folder of runs). For every page: its widgets render with no Python
traceback in the page and no console error; changing a control changes what is shown; the
optimize button moves the progress bar and shows a result; bad input is a message in the page
and the page keeps answering. A screenshot of each page lands in ``build/screenshots/``. One more
test opens a notebook's ``.py`` source in JupyterLab (jupytext) and sees its cells.

Outside CI a missing Chromium or Playwright skips these with a one-line reason; in CI
(``CI`` set) it fails: ``.ci/run`` installs Chromium.
"""
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ..conftest import REPO, free_port, serve

CHROMIUM = Path(os.environ.get("MFV_CHROMIUM", "/usr/bin/chromium"))
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run"]
SHOTS = REPO / "build" / "screenshots"
TIMEOUT_MS = 120_000  # a page starts a kernel that imports torch: seconds on 2 busy cores


def _missing() -> str | None:
    if not CHROMIUM.exists():
        return f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Python Playwright is not installed (it is in requirements/lock.txt)"
    return None


@pytest.fixture(scope="module")
def browser():
    reason = _missing()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"browser tests cannot run in CI: {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS, headless=True)
        yield b
        b.close()


@pytest.fixture(scope="module")
def teach(tmp_path_factory):
    """``python -m mfv_utils.teach`` on a free port, as ``make teach`` runs it: (base url, first line)."""
    port = free_port()
    build = tmp_path_factory.mktemp("teach")
    figures = os.environ.get("MFV_TEACH_FIGURES", str(REPO / "figures"))  # another set of runs, if given
    proc = subprocess.Popen([sys.executable, "-m", "mfv_utils.teach", "--port", str(port), "--build", str(build),
                             "--figures", figures],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=dict(os.environ))
    first = proc.stdout.readline().strip()
    t0 = time.time()
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"make teach's server exited: {first}\n{proc.stdout.read()[-2000:]}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        if time.time() - t0 > 90:
            proc.kill()
            raise RuntimeError(f"make teach's server did not answer on port {port} within 90 s")
        time.sleep(0.3)
    yield f"http://127.0.0.1:{port}", first, time.time() - t0
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


def _open(browser, url):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url, timeout=TIMEOUT_MS)
    # an explorer's status or error line, or a Python traceback in the page (then fail at once)
    page.wait_for_function("() => document.querySelector('.mfv-status, .mfv-error') || "
                           "document.body.innerText.includes('Traceback')", timeout=TIMEOUT_MS)
    if not page.locator(".mfv-status, .mfv-error").count():
        raise AssertionError(f"{url} shows a Python traceback:\n{page.inner_text('body')[-2000:]}")
    return page, errors


def _no_traceback(page):
    text = page.inner_text("body")
    assert "Traceback" not in text and "Error" not in text.replace("error:", ""), text[:2000]


def _src(page, selector, i=0):
    return page.locator(selector).nth(i).get_attribute("src")


def _changed(page, probe, before, what, timeout=30.0):
    """Wait until ``probe()`` differs from ``before``; returns the seconds it took."""
    t0 = time.time()
    while time.time() - t0 < timeout:
        if probe() != before:
            return time.time() - t0
        time.sleep(0.05)
    raise AssertionError(f"{what} did not change within {timeout:.0f} s")


def _select(page, label, value):
    box = page.locator(".widget-dropdown", has=page.locator(f"label:text-is('{label}')"))
    box.locator("select").select_option(label=str(value))


def test_teach_prints_its_address_first_and_serves_every_page(teach):
    base, first, seconds = teach
    assert first.startswith(f"{base}/ ") and "teaching app" in first
    print(f"make teach served its first page {seconds:.1f} s after start")


def test_facets_page(browser, teach):
    base, _, _ = teach
    page, errors = _open(browser, f"{base}/voila/render/01_facets.ipynb")
    page.wait_for_selector("img.widget-image", timeout=TIMEOUT_MS)
    _no_traceback(page)
    mean = lambda: _src(page, "img.widget-image", 1)  # noqa: E731 (0: the scatter, 1: the mean image)
    before = mean()
    _select(page, "facet", 4)
    took = _changed(page, mean, before, "the mean image after choosing facet 4")
    print(f"01 facets: facet change shown in {took:.2f} s")
    page.get_by_role("button", name="Optimize facet").click()
    page.wait_for_function("document.querySelector('.mfv-status') && "
                           "document.querySelector('.mfv-status').innerText.includes('class logit')",
                           timeout=TIMEOUT_MS)
    width = page.locator(".widget-hprogress .progress-bar").first.evaluate("e => e.style.width")
    assert width == "100%"
    logits = page.inner_text(".mfv-status").split("class logit ")[1].split(",")[0].split(" -> ")
    assert float(logits[1]) > float(logits[0])
    # bad input: a folder that is not there -> one line in the page, and the page goes on
    images = page.locator("input[placeholder='name or folder']")  # the image-set combobox
    images.fill("/no/such/folder")
    images.press("Enter")
    page.get_by_role("button", name="Embed + cluster").click()
    page.wait_for_selector(".mfv-error", timeout=TIMEOUT_MS)
    assert "neither a known name" in page.inner_text(".mfv-error")
    before = mean()
    _select(page, "facet", 1)
    _changed(page, mean, before, "the mean image after bad input")
    _no_traceback(page)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "01_facets.png"), full_page=True)
    assert not errors, errors
    page.close()


@pytest.mark.parametrize("stem, control, value, image_index", [
    ("02_hidden_units", "layer", "pool", 0),
    ("03_snap_or_blend", None, None, 1),
    ("04_priors", "method", "tv", 1),
])
def test_explorer_page(browser, teach, stem, control, value, image_index):
    base, _, _ = teach
    page, errors = _open(browser, f"{base}/voila/render/{stem}.ipynb")
    page.wait_for_selector("img.widget-image", timeout=TIMEOUT_MS)
    _no_traceback(page)
    shown = lambda: _src(page, "img.widget-image", image_index)  # noqa: E731
    before = shown()
    if control:
        _select(page, control, value)
    else:  # the position slider: focus its handle and step right
        page.locator(".widget-slider .noUi-handle").first.focus()
        page.keyboard.press("ArrowRight")
    took = _changed(page, shown, before, f"{stem}'s image after changing its control")
    print(f"{stem}: control change shown in {took:.2f} s")
    _no_traceback(page)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{stem}.png"), full_page=True)
    assert not errors, errors
    page.close()


def test_jupyterlab_opens_a_notebook_source_as_a_notebook(browser, tmp_path):
    """``make lab``'s server: a ``.py`` source opens as a notebook (jupytext), cells and all."""
    from mfv_utils import lab

    port = free_port()
    env = dict(os.environ, **lab.environment(tmp_path / "settings"))
    proc = serve(lab.command(port, token=""), port, REPO, env)
    try:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"http://127.0.0.1:{port}/lab/tree/notebooks/01_bell_pepper_tsne.py", timeout=TIMEOUT_MS)
        page.wait_for_function("document.querySelectorAll('.jp-Notebook .jp-Cell').length >= 20", timeout=TIMEOUT_MS)
        assert page.locator(".jp-FileEditor").count() == 0  # a notebook, not the text editor
        # a code cell far down: JupyterLab renders cells out of view when it is idle, so wait for it
        page.wait_for_function("document.querySelector('.jp-Notebook').innerText.includes('mfv.find_facets(net, unit')",
                               timeout=TIMEOUT_MS)
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "jupyterlab_notebook01.png"))
        page.close()
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_the_atlas_site_from_a_static_server_and_from_disk(browser, atlas_store):
    """The atlas site (``python -m mfv_utils.atlas site``) served by ``python -m http.server`` on
    127.0.0.1, and opened from disk: a thumbnail per unit with no broken image, the search box, the
    filter and the sort change the grid, a unit whose images are mostly of other classes carries a
    plain warning on its page, a unit page shows its k facets with their images."""
    port = free_port()
    server = serve([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"], port, atlas_store)
    try:
        for url in (f"http://127.0.0.1:{port}/index.html", (atlas_store / "index.html").as_uri()):
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            errors = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(url, timeout=TIMEOUT_MS)
            cards = page.locator(".card")
            assert cards.count() == 3
            page.wait_for_function("Array.from(document.images).every(i => i.complete)", timeout=30_000)
            widths = page.eval_on_selector_all(".card img", "els => els.map(e => e.naturalWidth)")
            assert widths == [128, 128, 128]  # every thumbnail loaded: none broken
            page.fill("#search", "bell pep")
            page.wait_for_function("document.getElementById('count').textContent === '1'", timeout=10_000)
            visible = [c for c in range(3) if cards.nth(c).is_visible()]
            assert len(visible) == 1 and "bell pepper" in cards.nth(visible[0]).inner_text()
            page.fill("#search", "")
            page.wait_for_function("document.getElementById('count').textContent === '3'", timeout=10_000)
            # the filter: tench and goldfish (no image of their own in this pool) are flagged, bell pepper
            # (all 150 of its own) is the one unit at >= 80 % own class
            page.select_option("#filter", "warned")
            page.wait_for_function("document.getElementById('count').textContent === '2'", timeout=10_000)
            shown = [cards.nth(c).inner_text() for c in range(3) if cards.nth(c).is_visible()]
            assert len(shown) == 2 and all("mostly other classes" in t for t in shown)
            page.select_option("#filter", "own")
            page.wait_for_function("document.getElementById('count').textContent === '1'", timeout=10_000)
            page.select_option("#filter", "all")
            # the sort: by own-class share, bell pepper (100 %) comes first; by unit, tench (0) does
            page.select_option("#sort", "share")
            assert "bell pepper" in page.locator(".card").first.inner_text()
            page.select_option("#sort", "unit")
            assert page.locator(".card").first.get_attribute("data-unit") == "0"
            SHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SHOTS / "atlas_index.png"))
            page.locator(".card[data-unit='0']").click()
            page.wait_for_selector(".facet", timeout=30_000)
            warning = page.inner_text(".warning")
            assert "Warning" in warning and "0%" in warning and "tench" in warning
            page.go_back()
            page.wait_for_selector(".card", timeout=30_000)
            cards = page.locator(".card")
            visible = [c for c in range(3) if "bell pepper" in cards.nth(c).inner_text()]
            assert page.locator(".warning").count() == 0  # the grid itself carries no page warning
            cards.nth(visible[0]).click()
            page.wait_for_selector(".facet", timeout=30_000)
            assert page.locator(".facet").count() == 4  # k = 4 facets
            page.wait_for_function("Array.from(document.images).every(i => i.complete)", timeout=30_000)
            sizes = page.eval_on_selector_all(".facet img", "els => els.map(e => e.naturalWidth)")
            assert len(sizes) == 8 and min(sizes) > 0
            assert "bell pepper" in page.inner_text("h1") and page.locator(".warning").count() == 0
            page.screenshot(path=str(SHOTS / "atlas_unit.png"), full_page=True)
            assert errors == []
            page.close()
    finally:
        server.terminate()
        server.wait(10)
