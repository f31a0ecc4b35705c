"""ournn studio in a real headless browser (Debian's Chromium driven by Playwright).

A person opens the page, builds a small MLP for MNIST (seeing the error at the layer where shapes
stop fitting), trains it for a short budget and watches the loss fall on the chart, a second tab
sees the same job, draws a digit and gets probabilities, saves the model and evaluates it with
`ournn eval`, loads it back, and trains a toy net whose decision boundary is drawn.

Screenshots of the main states are written to the test's folder, and to
$OURNN_STUDIO_SCREENSHOTS when it is set (that is how the README's pictures are made:
``OURNN_STUDIO_SCREENSHOTS=docs/images python -m pytest tests/studio/test_studio_e2e.py``).
"""
import os
import subprocess
import sys
import urllib.parse

import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")
pytest.importorskip("playwright.sync_api")

from studio_browser import (TIMEOUT, browser, draw_one, fill, open_page, set_layers,  # noqa
                            shots, studio, tid, wait_state)


def test_build_train_draw_save_eval_load(studio, browser, shots, tmp_path):
    url, workdir = studio
    context, page, errors = open_page(browser, url)
    tid(page, "dataset-select").select_option("mnist")
    page.wait_for_function("document.querySelectorAll('[data-testid=samples] canvas, "
                           "[data-testid=samples] img').length > 0")

    # a Linear layer on images: the error is shown at once, on that layer
    set_layers(page, [("Linear", {"out_features": 64}), ("ReLU", {}),
                      ("Linear", {"out_features": 10})])
    error = tid(page, "layer-error")
    error.wait_for()
    assert "Flatten" in error.inner_text()
    first = tid(page, "layer-row").first
    assert "invalid" in first.get_attribute("class")
    shots(page, "studio-error.png")

    # the small MLP: Flatten, Linear 64, ReLU, Linear 10
    set_layers(page, [("Flatten", {}), ("Linear", {"out_features": 64}), ("ReLU", {}),
                      ("Linear", {"out_features": 10})])
    page.wait_for_function("document.querySelector('[data-testid=model-status]')"
                           ".textContent.replace(/[,\\s]/g, '').includes('50890')")
    assert tid(page, "layer-error").count() == 0
    assert tid(page, "graph").locator("svg").count() == 1
    assert "setup=" in page.url                       # the set-up lives in the URL
    shots(page, "studio-build.png", readme=False)

    # train for a short budget
    fill(page, "epochs-input", "2")
    fill(page, "train-size-input", "4000")
    tid(page, "schedule-select").select_option("cosine")
    tid(page, "augment-select").select_option("shift")
    assert "shift" in urllib.parse.unquote(page.url)
    tid(page, "augment-select").select_option("none")
    tid(page, "start-btn").click()
    wait_state(page, ["running", "done"])
    # a second tab of the same browser sees the same job
    tab2 = context.new_page()
    tab2.goto(url)
    wait_state(tab2, ["running", "done"])
    wait_state(page, ["done"])
    wait_state(tab2, ["done"])
    steps = page.evaluate("window.ournnStudio.steps.loss")
    assert len(steps) >= 100
    head, tail = sum(steps[:10]) / 10, sum(steps[-10:]) / 10
    assert tail < 0.6 * head, (head, tail)            # the loss fell
    assert tab2.evaluate("window.ournnStudio.steps.loss.length") == len(steps)
    # (charts are redrawn at most once a second while a run trains: wait for the last one)
    page.wait_for_function("(document.querySelector('[data-testid=loss-chart] .series-steps')"
                           "?.getAttribute('d') || '').length > 100")
    assert tid(page, "confusion-cell").count() == 100
    # the rows show the live size of each layer's weights and gradients
    stats = [tid(page, "layer-stats").nth(i).inner_text() for i in range(4)]
    assert stats[0] == stats[2] == "" and "w " in stats[1] and "∇ " in stats[3], stats
    val = page.evaluate("window.ournnStudio.job.history.val_accuracy")
    assert len(val) == 2 and val[-1] > 0.8
    job = page.evaluate("window.ournnStudio.job")
    assert job["setup"]["schedule"] == "cosine" and job["setup"]["augment"] == "none"
    assert job["history"]["lr"][1] < job["history"]["lr"][0] < 1e-3     # the cosine decay
    tab2.close()
    shots(page, "studio-trained.png", readme=False)

    # draw a digit and get the model's probabilities
    draw_one(page)
    page.wait_for_function("document.querySelectorAll('[data-testid=prob-bar]').length == 10")
    probs = [float(b.get_attribute("data-prob")) for b in tid(page, "prob-bar").all()]
    assert abs(sum(probs) - 1) < 1e-3
    assert tid(page, "predict-top").inner_text().strip()
    tid(page, "draw-canvas").scroll_into_view_if_needed()
    shots(page, "studio-draw.png")

    # save, and evaluate the file with the command line
    tid(page, "save-name").fill("e2e-mlp")
    tid(page, "save-btn").click()
    tid(page, "download-link").wait_for()
    saved = os.path.join(str(workdir), "models", "e2e-mlp.ckpt")
    assert saved in tid(page, "save-result").inner_text()
    out = subprocess.run([sys.executable, "-m", "ournn.cli", "eval", "--ckpt", saved],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    accuracy = float(out.stdout.split("accuracy ")[1].split("%")[0])
    assert abs(accuracy - 100 * val[-1]) < 0.01, (out.stdout, val)

    # load it back in a fresh browser (another session): the layers come back
    _, other, _ = open_page(browser, url)
    tid(other, "load-file").set_input_files(saved)
    tid(other, "load-result").wait_for()
    other.wait_for_function("document.querySelectorAll('[data-testid=layer-row]').length == 4")
    assert "Linear" in tid(other, "layer-row").nth(1).inner_text() or \
        tid(other, "layer-type").nth(1).input_value() == "Linear"
    draw_one(other)
    other.wait_for_function("document.querySelectorAll('[data-testid=prob-bar]').length == 10")
    other.context.close()
    assert errors == []
    context.close()


def test_toy_decision_boundary(studio, browser, shots):
    url, _ = studio
    context, page, errors = open_page(browser, url)
    tid(page, "dataset-select").select_option("spirals")
    set_layers(page, [("Linear", {"out_features": 32}), ("Tanh", {}),
                      ("Linear", {"out_features": 32}), ("Tanh", {}),
                      ("Linear", {"out_features": 3})])
    page.wait_for_function("document.querySelector('[data-testid=model-status]')"
                           ".textContent.replace(/[,\\s]/g, '').includes('1251')")
    fill(page, "lr-input", "0.01")
    fill(page, "epochs-input", "60")
    fill(page, "batch-size-input", "32")
    tid(page, "start-btn").click()
    wait_state(page, ["done"])
    acc = page.evaluate("window.ournnStudio.job.history.val_accuracy")
    assert acc[-1] > 0.8, acc
    # the boundary canvas is painted in more than one colour
    colours = page.evaluate("""() => {
        const c = document.querySelector('[data-testid=boundary]');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        const seen = new Set();
        for (let i = 0; i < d.length; i += 4 * 97) seen.add(d[i] + ',' + d[i + 1] + ',' + d[i + 2]);
        return seen.size; }""")
    assert colours > 3
    tid(page, "boundary").scroll_into_view_if_needed()
    shots(page, "studio-spirals.png")
    assert errors == []
    context.close()


def test_csv_upload_link_pause_and_stop(studio, browser, tmp_path):
    import numpy as np
    url, _ = studio
    context, page, errors = open_page(browser, url)

    # a file that is not a CSV of numbers: a clear message, nothing breaks
    page.get_by_text("Upload a CSV file").click()        # the section opens
    bad = tmp_path / "notes.csv"
    bad.write_text("name,colour,label\nann,red,a\nbob,blue,b\n")
    tid(page, "csv-file").set_input_files(str(bad))
    tid(page, "csv-upload").click()
    page.wait_for_function("document.querySelector('[data-testid=csv-result]')"
                           ".textContent.includes('not a number')")
    assert "'colour'" in tid(page, "csv-result").inner_text() or \
        "'name'" in tid(page, "csv-result").inner_text()

    # a good one: four features, three classes, the label in a named column
    rng = np.random.default_rng(0)
    x = rng.normal(size=(600, 4))
    y = np.argmax(x[:, :3], axis=1)
    good = tmp_path / "blobs.csv"
    good.write_text("kind,a,b,c,d\n" + "\n".join(
        f"k{yi}," + ",".join(f"{v:.4f}" for v in xi) for xi, yi in zip(x, y)) + "\n")
    tid(page, "csv-file").set_input_files(str(good))
    tid(page, "csv-label").fill("kind")
    tid(page, "csv-upload").click()
    page.wait_for_function("document.querySelector('[data-testid=dataset-select]').value"
                           " === 'csv:blobs'")
    assert tid(page, "augment-select").is_disabled()        # only images are augmented
    set_layers(page, [("Linear", {"out_features": 16}), ("ReLU", {}),
                      ("Dropout", {"p": 0.1}), ("Linear", {"out_features": 3})])
    page.wait_for_function("document.querySelector('[data-testid=model-status]')"
                           ".textContent.replace(/[,\\s]/g, '').includes('131')")
    for name, value in (("epochs-input", "400"), ("batch-size-input", "8"),
                        ("lr-input", "0.003")):
        fill(page, name, value)

    # the link reproduces the layers and settings in another browser (which has not
    # uploaded the CSV, so the dataset falls back to a built-in one)
    link = page.url
    _, page2, _ = open_page(browser, link)
    page2.wait_for_function("document.querySelectorAll('[data-testid=layer-row]').length == 4")
    assert tid(page2, "epochs-input").input_value() == "400"
    assert tid(page2, "lr-input").input_value() == "0.003"
    assert tid(page2, "layer-row").nth(2).get_by_test_id("param-p").input_value() == "0.1"
    page2.context.close()

    # start, pause (the step count stands still), resume, stop
    tid(page, "start-btn").click()
    wait_state(page, ["running"])
    page.wait_for_function("window.ournnStudio.steps.loss.length > 20")
    tid(page, "pause-btn").click()
    wait_state(page, ["paused"])
    assert tid(page, "pause-btn").inner_text().strip() == "Resume"
    page.wait_for_timeout(300)
    n = page.evaluate("window.ournnStudio.job.global_step")
    page.wait_for_timeout(700)
    assert page.evaluate("window.ournnStudio.job.global_step") == n
    tid(page, "pause-btn").click()
    wait_state(page, ["running"])
    tid(page, "stop-btn").click()
    wait_state(page, ["stopped"])
    job = page.evaluate("window.ournnStudio.job")
    assert job["epoch"] < 400 and job["checkpoint"].endswith("last.ckpt")
    assert errors == []
    context.close()
