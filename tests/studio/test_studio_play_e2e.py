"""Watching a network learn in the browser (issue 19): Step, Play until paused with a live
epoch counter, a learning rate changed while paused that applies on resume, the per-unit
heatmaps with weight-coloured connections for 2-D data, and Reset."""
import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")
pytest.importorskip("playwright.sync_api")

from studio_browser import (browser, fill, open_page, set_layers, shots, studio,  # noqa
                            start_toy_run, tid, wait_model_ok, wait_state)

NET = [("Linear", {"out_features": 6}), ("Tanh", {}), ("Linear", {"out_features": 4}),
       ("Tanh", {}), ("Linear", {"out_features": 2})]


def job(page, key):
    return page.evaluate(f"window.ournnStudio.job && window.ournnStudio.job.{key}")


def test_step_play_pause_settings_heatmaps_and_reset(studio, browser, shots):
    url, _ = studio
    context, page, errors = open_page(browser, url)
    tid(page, "dataset-select").select_option("circles")
    # the proposal for 2-D points, not the image one (which stopped at 83% on a line)
    assert tid(page, "lr-input").input_value() == "0.01"
    assert tid(page, "epochs-input").input_value() == "100"
    set_layers(page, NET)
    wait_model_ok(page)
    tid(page, "step-btn").click()
    page.wait_for_function("window.ournnStudio.job && window.ournnStudio.job.global_step === 1")
    tid(page, "step-btn").click()
    page.wait_for_function("window.ournnStudio.job.global_step === 2")
    assert tid(page, "job-state").inner_text() == "paused"
    assert "epoch 0 · step 2 / " in tid(page, "epoch-progress").inner_text()

    tid(page, "play-btn").click()
    wait_state(page, ["running"])
    assert tid(page, "play-btn").inner_text() == "⏸ Pause"
    seen = set()
    for _ in range(40):                      # the epoch counter moves while it plays
        seen.add(tid(page, "epoch-progress").inner_text().split(" · ")[0])
        if len(seen) >= 3:
            break
        page.wait_for_timeout(100)
    assert len(seen) >= 3, seen
    tid(page, "play-btn").click()
    wait_state(page, ["paused"])
    # changed while paused: the job takes it, and trains with it on resume
    fill(page, "lr-input", "0.003")
    page.wait_for_function("window.ournnStudio.job.setup.lr === 0.003")
    epochs = job(page, "epoch")
    tid(page, "play-btn").click()
    page.wait_for_function(f"window.ournnStudio.job.history.lr.length > {epochs + 1}")
    assert job(page, "history.lr")[-1] == 0.003
    page.wait_for_function("window.ournnStudio.job.history.val_accuracy.slice(-1)[0] > 0.9",
                           timeout=60_000)
    tid(page, "play-btn").click()
    wait_state(page, ["paused"])

    # one heatmap per input and hidden unit, painted in more than one colour; weights as lines
    maps = tid(page, "unit-map")
    assert maps.count() == 2 + 6 + 4
    colours = page.evaluate("""() => [...document.querySelectorAll('[data-testid=unit-map]')]
        .map(c => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                    const s = new Set(); for (let i = 0; i < d.length; i += 4) s.add(d[i] + ',' + d[i+2]);
                    return s.size; })""")
    assert sum(c > 20 for c in colours) >= 8, colours
    widths = {round(float(w), 1) for w in page.evaluate(
        "[...document.querySelectorAll('[data-testid=units] line')].map(l => l.getAttribute('stroke-width'))")}
    strokes = set(page.evaluate(
        "[...document.querySelectorAll('[data-testid=units] line')].map(l => l.getAttribute('stroke'))"))
    assert len(widths) > 5 and strokes == {"#0877bd", "#f59322"}
    small = maps.nth(3).bounding_box()["width"]
    maps.nth(3).hover()
    page.wait_for_timeout(300)
    assert maps.nth(3).bounding_box()["width"] > 2.5 * small          # enlarged on hover
    page.mouse.move(0, 0)
    tid(page, "units").scroll_into_view_if_needed()
    shots(page, "studio_units.png")

    tid(page, "reset-btn").click()
    wait_state(page, ["idle"])
    assert tid(page, "start-btn").inner_text() == "Start"
    assert "Reset" in tid(page, "run-label").inner_text() and maps.count() == 0
    assert errors == []
    context.close()


def _scatter_points(page):
    return page.evaluate("window.ournnStudio && document.querySelector("
                         "'[data-testid=samples] .legend-inline').textContent")


def test_data_controls_noise_split_draw_test_points_and_features(studio, browser, shots):
    url, _ = studio
    context, page, errors = open_page(browser, url)
    tid(page, "dataset-select").select_option("gauss")          # Gaussian clusters
    page.wait_for_function("document.querySelector('[data-testid=samples] canvas')")
    tid(page, "dataset-select").select_option("circles")
    assert tid(page, "noise-input").input_value() == "0.08"     # the set's own noise
    tid(page, "share-input").fill("0.5")
    tid(page, "share-input").dispatch_event("change")
    page.wait_for_function("document.querySelector('#dataset-info').textContent"
                           ".startsWith('750 training and 750 test')")
    assert tid(page, "train-size-input").input_value() == "750"
    page.wait_for_function("document.querySelector('[data-testid=samples]').textContent"
                           ".includes('750 training points')")
    before = page.evaluate("document.querySelector('[data-testid=samples] canvas').toDataURL()")
    tid(page, "regenerate-btn").click()                         # a new draw of the points
    page.wait_for_function("decodeURIComponent(location.search).includes('\"seed\":2')")
    page.wait_for_function("(document.querySelector('[data-testid=samples] canvas')?.toDataURL()"
                           f" || {before!r}) !== {before!r}")
    tid(page, "show-test").check()
    page.wait_for_function("document.querySelector('[data-testid=samples]').textContent"
                           ".includes('750 test points (rings)')")
    # x1^2 and x2^2 only: one Linear layer separates the circles
    tid(page, "feature-x1^2").check()
    tid(page, "feature-x2^2").check()
    tid(page, "feature-x1").uncheck()
    tid(page, "feature-x2").uncheck()
    set_layers(page, [("Linear", {"out_features": 2})])
    wait_model_ok(page)
    fill(page, "epochs-input", 30)
    fill(page, "lr-input", 0.05)
    tid(page, "start-btn").click()
    wait_state(page, ["done"])
    acc = page.evaluate("window.ournnStudio.job.history.val_accuracy")
    assert acc[-1] > 0.95, acc
    assert tid(page, "unit-map").count() == 2             # the two feature inputs
    assert tid(page, "feature-x1").is_enabled()
    tid(page, "boundary").scroll_into_view_if_needed()
    shots(page, "studio_toy_features.png", readme=False)
    assert errors == []
    context.close()


def test_runs_side_by_side_log_scale_smoothing_lr_and_a_still_boundary_click(studio, browser,
                                                                            shots):
    url, _ = studio
    context, page, errors = open_page(browser, url)
    start_toy_run(page, [("Linear", {"out_features": 8}), ("Tanh", {}),
                         ("Linear", {"out_features": 2})], 15)
    wait_state(page, ["done"])
    fill(page, "lr-input", 0.001)
    tid(page, "schedule-select").select_option("cosine")
    tid(page, "start-over-btn").click()
    page.wait_for_function("window.ournnStudio.job.run === 2 && document.querySelector("
                           "'[data-testid=job-state]').textContent === 'done'")
    page.wait_for_function("document.querySelectorAll('[data-testid=run-row]').length === 2")
    rows = tid(page, "run-row")
    assert "2 (shown)" in rows.nth(0).inner_text() and "lr 0.001" in rows.nth(0).inner_text()
    assert "lr 0.01" in rows.nth(1).inner_text()
    # run 1's validation curves beside run 2's
    tid(page, "compare-run").nth(1).check()
    page.wait_for_function("document.querySelectorAll('[data-testid=acc-chart] path.series-other')"
                           ".length === 1")
    assert "run 1 validation" in page.evaluate(
        "document.querySelector('[data-testid=loss-chart]').textContent")
    # the learning rate of each step: the cosine decay
    lr_path = page.locator("[data-testid=lr-chart] .series-lr").get_attribute("d")
    assert lr_path.count("L") > 100
    lrs = page.evaluate("window.ournnStudio.steps.lr")
    assert lrs[0] > lrs[len(lrs) // 2] > lrs[-1]
    # log scale and smoothing redraw the loss
    linear = page.locator("[data-testid=loss-chart] .series-steps").get_attribute("d")
    tid(page, "log-scale").check()
    page.wait_for_function(f"document.querySelector('[data-testid=loss-chart] .series-steps')"
                           f".getAttribute('d') !== {linear!r}")
    assert page.locator("[data-testid=loss-chart] .series-smooth").count() == 1
    tid(page, "smoothing").fill("0")
    page.wait_for_function("!document.querySelector('[data-testid=loss-chart] .series-smooth')")
    # the title and legend never overlap
    title, boxes = page.evaluate("""() => {
        const svg = document.querySelector('[data-testid=loss-chart]');
        const box = (e) => { const r = e.getBoundingClientRect();
                             return {x: r.x, y: r.y, width: r.width, height: r.height}; };
        return [box(svg.querySelector('.title')), [...svg.querySelectorAll('.legend > g')].map(box)];
    }""")
    for box in boxes:
        assert box["y"] > title["y"] + title["height"] - 2 or box["x"] > title["x"] + title["width"]
    shots(page, "studio_runs.png")

    # a click on the boundary answers beside the point; the page does not scroll
    tid(page, "boundary").scroll_into_view_if_needed()
    before = page.evaluate("window.scrollY")
    box = tid(page, "boundary").bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.2, box["y"] + box["height"] * 0.2)
    tid(page, "boundary-answer").wait_for()
    page.wait_for_timeout(600)
    assert page.evaluate("window.scrollY") == before
    answer = tid(page, "boundary-answer")
    assert "class" in answer.inner_text() and "%" in answer.inner_text()
    spot = answer.bounding_box()
    assert abs(spot["y"] - (box["y"] + box["height"] * 0.2)) < 40
    assert errors == []
    context.close()


def test_mnist_first_layer_filters_and_feature_maps_follow_the_learning(studio, browser,
                                                                        shots):
    from studio_browser import draw_one
    url, _ = studio
    context, page, errors = open_page(browser, url)
    tid(page, "dataset-select").select_option("mnist")
    set_layers(page, [("Conv2d", {"out_channels": 8, "kernel_size": 5}), ("ReLU", {}),
                      ("MaxPool2d", {}), ("Flatten", {}), ("Linear", {"out_features": 10})])
    wait_model_ok(page)
    fill(page, "epochs-input", 1)
    fill(page, "train-size-input", 3000)
    tid(page, "start-btn").click()
    wait_state(page, ["done"])
    draw_one(page)
    tid(page, "first-layer").wait_for()
    page.wait_for_function("document.querySelectorAll('[data-testid=filter-map]').length === 8")
    assert tid(page, "feature-map").count() == 8
    size = page.evaluate("[...document.querySelectorAll('[data-testid=feature-map]')]"
                         ".map(c => c.width + 'x' + c.height)")
    assert set(size) == {"24x24"}, size                  # 28 - 5 + 1, after the ReLU
    # the drawn "1" lights some maps up: not all black
    lit = page.evaluate("""[...document.querySelectorAll('[data-testid=feature-map]')].map(c => {
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let s = 0; for (let i = 0; i < d.length; i += 4) s += d[i]; return s; })""")
    assert sum(v > 0 for v in lit) >= 2, lit
    # as it learns on: the filters change with the weights
    before = page.evaluate("document.querySelector('[data-testid=filter-map]').toDataURL()")
    tid(page, "play-btn").click()
    page.wait_for_function("document.querySelector('[data-testid=filter-map]').toDataURL() "
                           f"!== {before!r}", timeout=60_000)
    tid(page, "play-btn").click()
    wait_state(page, ["paused"])
    page.locator("#draw-card").scroll_into_view_if_needed()
    shots(page, "studio_mnist_maps.png")
    tid(page, "stop-btn").click()
    wait_state(page, ["stopped"])
    assert errors == []
    context.close()


def test_2d_regression_draws_the_output_surface_and_answers_values(studio, browser):
    url, _ = studio
    context, page, errors = open_page(browser, url)
    tid(page, "dataset-select").select_option("reg-gauss")
    assert "regression" in page.inner_text("#dataset-info")
    set_layers(page, [("Linear", {"out_features": 12}), ("Tanh", {}),
                      ("Linear", {"out_features": 12}), ("Tanh", {}),
                      ("Linear", {"out_features": 1})])
    wait_model_ok(page)
    fill(page, "epochs-input", 40)
    tid(page, "start-btn").click()
    wait_state(page, ["done"])
    assert page.evaluate("window.ournnStudio.job.history.val_loss.slice(-1)[0]") < 0.05
    assert "accuracy" not in page.inner_text("#job-metrics")
    # the surface: orange and blue regions, one heatmap per input and hidden unit
    colours = page.evaluate("""() => {
        const c = document.querySelector('[data-testid=boundary]');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let blue = 0, orange = 0;
        for (let i = 0; i < d.length; i += 4 * 31) { if (d[i + 2] > d[i] + 60) blue++; if (d[i] > d[i + 2] + 60) orange++; }
        return [blue, orange]; }""")
    assert min(colours) > 50, colours
    assert tid(page, "unit-map").count() == 2 + 12 + 12
    tid(page, "boundary").scroll_into_view_if_needed()
    box = tid(page, "boundary").bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.75, box["y"] + box["height"] * 0.25)
    tid(page, "boundary-answer").wait_for()
    assert "value" in tid(page, "boundary-answer").inner_text()
    assert float(tid(page, "predict-top").inner_text()) > 0.5       # a positive bump there
    assert errors == []
    context.close()


def test_the_character_model_writes_from_a_prompt_while_it_learns(studio, browser):
    url, _ = studio
    context, page, errors = open_page(browser, url)
    tid(page, "dataset-select").select_option("shakespeare")
    wait_model_ok(page, timeout=60_000)
    assert tid(page, "text-model").is_visible() and not tid(page, "layer-list").is_visible()
    assert "ALL'S WELL" in tid(page, "samples").inner_text()
    fill(page, "train-size-input", 30000)
    tid(page, "play-btn").click()
    wait_state(page, ["running"])
    page.wait_for_function("window.ournnStudio.job.epoch >= 1", timeout=120_000)
    tid(page, "prompt-input").fill("JULIET:")
    tid(page, "generate-btn").click()                 # while it learns
    page.wait_for_function("document.querySelector('[data-testid=generated]').textContent"
                           ".length > 200")
    assert tid(page, "generated").inner_text().startswith("JULIET:")
    assert tid(page, "job-state").inner_text() == "running"
    tid(page, "stop-btn").click()
    wait_state(page, ["stopped"])
    assert "val loss" in page.inner_text("#job-metrics")
    assert errors == []
    context.close()
