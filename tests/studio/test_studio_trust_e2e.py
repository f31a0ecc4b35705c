"""The page shows and saves what it says (issue 19, "Trust"), in a real browser: Start is off
with the reason while a field is invalid; the views say which run they show and clear when
that stops being true (another dataset, a zoo network, a loaded checkpoint, a new Start); a
loaded checkpoint continues or starts over by explicit choice; Save saves the network shown or
says why not; errors appear once, where they belong, without moving the layout."""
import os

import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")
pytest.importorskip("playwright.sync_api")

from studio_browser import (browser, draw_one, fill, open_page, set_layers, studio,  # noqa
                            start_toy_run, tid, wait_model_ok, wait_state)

TOY = [("Linear", {"out_features": 16}), ("Tanh", {}), ("Linear", {"out_features": 2})]


def text(page, testid):
    return tid(page, testid).inner_text().strip()


def train_moons(page, epochs=2):
    start_toy_run(page, TOY, epochs, fields={"batch-size-input": 32, "lr-input": 0.01})
    wait_state(page, ["done"])


def steps_drawn(page):
    return page.evaluate("(document.querySelector('[data-testid=loss-chart] .series-steps')"
                         "?.getAttribute('d') || '').length")


def test_start_is_off_with_the_reason_while_a_field_is_invalid(studio, browser):
    url, _ = studio
    context, page, errors = open_page(browser, url)
    tid(page, "dataset-select").select_option("mnist")
    wait_model_ok(page)
    start = tid(page, "start-btn")
    assert start.is_enabled() and text(page, "start-reason") == ""
    fill(page, "lr-input", "0")
    assert start.is_disabled()
    reason = text(page, "start-reason")
    assert "Learning rate" in reason and "at least" in reason, reason
    fill(page, "lr-input", "0.001")
    assert start.is_enabled() and text(page, "start-reason") == ""
    # a layer's value out of range: 5000 units
    fill(tid(page, "layer-row").nth(1), "param-out_features", "5000")
    assert start.is_disabled()
    assert "layer 2 units: at most 4096" in text(page, "start-reason")
    fill(tid(page, "layer-row").nth(1), "param-out_features", "64")
    page.wait_for_function("!document.querySelector('[data-testid=start-btn]').disabled")
    # a kernel of 29 on a convolution
    set_layers(page, [("Conv2d", {"kernel_size": 29}), ("Flatten", {}),
                      ("Linear", {"out_features": 10})])
    assert start.is_disabled() and "layer 1 kernel: at most 15" in text(page, "start-reason")
    # a network whose shapes do not fit: the layer and the reason
    set_layers(page, [("Linear", {"out_features": 10})])
    page.wait_for_function("document.querySelector('[data-testid=start-reason]')"
                           ".textContent.includes('Flatten')")
    assert start.is_disabled() and "layer 1" in text(page, "start-reason")
    assert errors == []
    context.close()


def test_views_say_which_run_and_clear_when_it_stops_being_true(studio, browser):
    url, workdir = studio
    context, page, errors = open_page(browser, url)
    train_moons(page)
    assert text(page, "run-label").startswith("Run 1 · Two moons")
    assert text(page, "charts-run") == "run 1" and text(page, "results-run") == "run 1"
    page.wait_for_function("(document.querySelector('[data-testid=loss-chart] .series-steps')"
                           "?.getAttribute('d') || '').length > 50")
    assert "after epoch 2" in page.inner_text("#job-metrics")
    # the speed at the end is the run's average over its training steps
    job = page.evaluate("window.ournnStudio.job")
    assert text(page, "samples-per-sec") == str(round(job["samples_per_sec"]))
    assert job["samples_per_sec"] > 800 * 2 / sum(job["history"]["time"])

    # another dataset: nothing of run 1 is shown
    tid(page, "dataset-select").select_option("circles")
    page.wait_for_function("document.querySelector('[data-testid=job-state]')"
                           ".textContent === 'idle'")
    page.wait_for_function("!(document.querySelector('[data-testid=loss-chart] .series-steps')"
                           "?.getAttribute('d'))")
    assert page.inner_text("#job-metrics") == "" and steps_drawn(page) == 0
    assert "No run of the network shown" in text(page, "run-label")
    assert text(page, "charts-run") == "no run" and text(page, "samples-per-sec") == "–"
    assert all(tid(page, "layer-stats").nth(i).inner_text() == "" for i in range(3))
    # back to the network run 1 trained: its results are true again
    tid(page, "dataset-select").select_option("moons")
    wait_state(page, ["done"])
    assert text(page, "run-label").startswith("Run 1")

    # Start: the badge never shows the last run's "done" before the new run's state
    page.evaluate("""() => {
        window.badgeLog = [];
        new MutationObserver(() => window.badgeLog.push(
            document.querySelector('[data-testid=job-state]').textContent))
          .observe(document.querySelector('[data-testid=job-state]'),
                   {childList: true, characterData: true, subtree: true});
    }""")
    tid(page, "start-over-btn").click()
    page.wait_for_function("window.ournnStudio.job.run === 2 && "
                           "document.querySelector('[data-testid=job-state]').textContent === 'done'",
                           timeout=120_000)
    log = page.evaluate("window.badgeLog")
    assert log[0] == "starting" and log.index("done") > log.index("running"), log
    assert text(page, "run-label").startswith("Run 2")

    # a zoo network on MNIST: the views clear, the selector names it until an edit
    tid(page, "dataset-select").select_option("mnist")
    tid(page, "zoo-select").select_option("lenet5")
    tid(page, "zoo-load").click()
    page.wait_for_function("document.querySelectorAll('[data-testid=layer-row]').length > 6")
    assert tid(page, "zoo-select").input_value() == "lenet5"
    assert text(page, "job-state") == "idle" and steps_drawn(page) == 0
    tid(page, "layer-remove").last.click()
    assert tid(page, "zoo-select").input_value() == ""
    assert errors == []
    context.close()


def test_a_loaded_checkpoint_continues_or_starts_over(studio, browser):
    url, _ = studio
    context, page, errors = open_page(browser, url)
    train_moons(page, epochs=6)
    first = page.evaluate("window.ournnStudio.job")
    last_ckpt = first["checkpoint"]
    before = first["history"]["val_accuracy"][-1]
    context.close()

    context, page, errors = open_page(browser, url)
    tid(page, "load-file").set_input_files(last_ckpt)
    page.wait_for_function("document.querySelector('[data-testid=load-result]')"
                           ".classList.contains('ok')")
    assert "trained 6 epochs" in text(page, "load-result")
    assert text(page, "start-btn") == "Continue training"
    assert tid(page, "start-over-btn").is_visible()
    assert "optimizer state" in text(page, "start-reason")
    assert text(page, "job-state") == "idle" and "Loaded last.ckpt" in text(page, "run-label")
    fill(page, "epochs-input", 1)
    tid(page, "start-btn").click()
    wait_state(page, ["done"])
    job = page.evaluate("window.ournnStudio.job")
    assert job["source"]["file"] == "last.ckpt" and job["source"]["optimizer"] is True
    assert "continues the loaded file last.ckpt" in text(page, "run-label")
    assert job["history"]["val_accuracy"][0] > before - 0.05, (before, job["history"])
    # start over: new weights, said so
    tid(page, "start-over-btn").click()
    page.wait_for_function("window.ournnStudio.job.run === 2 && "
                           "document.querySelector('[data-testid=job-state]').textContent === 'done'",
                           timeout=120_000)
    assert page.evaluate("window.ournnStudio.job.source") is None
    assert "continues" not in text(page, "run-label")
    assert errors == []
    context.close()


def test_save_saves_the_network_shown_or_says_why_not(studio, browser):
    url, workdir = studio
    context, page, errors = open_page(browser, url)
    train_moons(page)
    tid(page, "dataset-select").select_option("circles")      # same layers, another dataset
    tid(page, "save-name").fill("not-this")
    tid(page, "save-btn").click()
    page.wait_for_function("document.querySelector('[data-testid=save-result]')"
                           ".classList.contains('error')")
    message = text(page, "save-result")
    assert "has not been trained" in message and "run 1" in message, message
    assert not os.path.exists(os.path.join(str(workdir), "models", "not-this.ckpt"))
    assert tid(page, "error-banner").is_hidden()
    tid(page, "dataset-select").select_option("moons")
    tid(page, "save-name").fill("this-one")
    tid(page, "save-btn").click()
    tid(page, "download-link").wait_for()
    assert text(page, "save-result").startswith("Saved run 1 after epoch 2 of 2 (finished) to ")
    assert errors == []
    context.close()


def test_errors_appear_once_where_they_belong(studio, browser, tmp_path):
    url, _ = studio
    context, page, errors = open_page(browser, url)
    tid(page, "dataset-select").select_option("mnist")
    wait_model_ok(page)
    # drawing before any training: the answer panel says so, nothing moves
    top = tid(page, "draw-canvas").bounding_box()["y"]
    charts = page.locator("#charts-card").bounding_box()["y"]
    draw_one(page)
    page.wait_for_function("document.querySelector('#predict-msg').textContent"
                           ".includes('No trained model yet')")
    assert tid(page, "error-banner").is_hidden()
    assert tid(page, "draw-canvas").bounding_box()["y"] == top
    assert page.locator("#charts-card").bounding_box()["y"] == charts

    # a corrupt checkpoint: one message, in the load panel, without NumPy's pickle advice
    bad = tmp_path / "broken.ckpt"
    bad.write_bytes(b"PK\x03\x04" + bytes(300))
    tid(page, "load-file").set_input_files(str(bad))
    page.wait_for_function("document.querySelector('[data-testid=load-result]')"
                           ".classList.contains('error')")
    message = text(page, "load-result")
    assert message.startswith("Could not load broken.ckpt: ") and "pickle" not in message
    assert "(file)" not in message and tid(page, "error-banner").is_hidden()
    assert page.locator("body").inner_text().count("Could not load broken.ckpt") == 1

    # a pool that does not fit: the page's terms, no batch dimension or function name
    set_layers(page, [("Conv2d", {"kernel_size": 5}), ("MaxPool2d", {}), ("MaxPool2d", {}),
                      ("MaxPool2d", {}), ("MaxPool2d", {}), ("MaxPool2d", {})])
    error = tid(page, "layer-error")
    error.wait_for()
    assert "2x2 window does not fit the 1x1 image" in error.inner_text()
    assert "max_pool2d" not in page.locator("body").inner_text()
    assert errors == []
    context.close()
