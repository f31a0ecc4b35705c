"""The browser side of the studio tests: Debian's Chromium driven by Playwright, the studio
started as `ournn studio` in a subprocess, and the few gestures the tests repeat (open a page,
fill a field, build a network, wait for a state, draw a digit).

Test modules import the fixtures they use (``studio``, ``browser``, ``shots``) from here."""
import os
import shutil
import subprocess

import pytest

sync_api = pytest.importorskip("playwright.sync_api")

from studio_server import start_cli_server  # noqa: E402

CHROMIUM = os.environ.get("OURNN_CHROMIUM", "/usr/bin/chromium")
if not os.path.exists(CHROMIUM):
    pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)", allow_module_level=True)

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TIMEOUT = 120_000   # ms, for waits on training


@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("studio-e2e")
    proc, url = start_cli_server(workdir)
    yield url, workdir
    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
    proc.stdout.close()


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def shots(tmp_path):
    folders = [tmp_path]
    if os.environ.get("OURNN_STUDIO_SCREENSHOTS"):
        folders.append(os.environ["OURNN_STUDIO_SCREENSHOTS"])

    def shot(page, name, readme=True, full_page=True):
        path = os.path.join(str(tmp_path), name)
        page.screenshot(path=path, full_page=full_page)
        assert os.path.getsize(path) > 10_000
        for folder in folders[1:] if readme else ():
            os.makedirs(folder, exist_ok=True)
            shutil.copy(path, os.path.join(folder, name))
    return shot


def tid(page, name):
    return page.get_by_test_id(name)


def open_page(browser, url):
    """A new browser (context) on the studio: (context, page, errors raised in the page)."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url)
    return context, page, errors


def fill(page, testid, value):
    """Type a value into an input and commit it, as leaving the field does."""
    tid(page, testid).fill(str(value))
    tid(page, testid).dispatch_event("change")


def set_layers(page, layers):
    """Remove every layer, then add ``layers`` [(type, {param: value})] through the UI."""
    while tid(page, "layer-row").count():
        tid(page, "layer-remove").first.click()
    for kind, params in layers:
        tid(page, "add-layer-type").select_option(kind)
        tid(page, "add-layer").click()
        row = tid(page, "layer-row").last
        for name, value in params.items():
            fill(row, f"param-{name}", value)


def wait_model_ok(page, **kwargs):
    """Wait until the page says the model on it is valid (its status turns "ok")."""
    page.wait_for_function("document.querySelector('[data-testid=model-status]')"
                           ".classList.contains('ok')", **kwargs)


def start_toy_run(page, layers, epochs, dataset="moons", fields=None):
    """Choose a 2-D toy set, put ``layers`` on the page once it accepts them, set the epochs
    (and ``fields``: test id -> value) and press Start."""
    tid(page, "dataset-select").select_option(dataset)
    set_layers(page, layers)
    wait_model_ok(page)
    fill(page, "epochs-input", epochs)
    for name, value in (fields or {}).items():
        fill(page, name, value)
    tid(page, "start-btn").click()


def wait_state(page, states, timeout=TIMEOUT):
    page.wait_for_function(
        "states => states.includes(document.querySelector('[data-testid=job-state]')"
        ".textContent.trim())", arg=list(states), timeout=timeout)


def draw_one(page):
    """Draw a "1" with the mouse: one vertical stroke in the middle of the canvas."""
    canvas = tid(page, "draw-canvas")
    box = canvas.bounding_box()
    x = box["x"] + box["width"] * 0.5
    page.mouse.move(x, box["y"] + box["height"] * 0.15)
    page.mouse.down()
    for i in range(1, 21):
        page.mouse.move(x + i * 0.4, box["y"] + box["height"] * (0.15 + 0.035 * i))
    page.mouse.up()
