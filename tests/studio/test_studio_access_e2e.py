"""Layout and access (issue 19): a phone's screen (390 x 844) with the cards in the order one
uses them and touch targets of at least 44 px, words that are never cut in two, a graph that
says it goes on, and axe-core's accessibility rules with no serious finding.

axe-core comes from the npm registry (MPL-2.0); the test looks for ``axe.min.js`` at
$OURNN_AXE_CORE, else in ~/.cache/ournn (where CI puts it:
``npm install --no-save --no-package-lock --prefix "$HOME/.cache/ournn" axe-core@4.14.1``)."""
import os

import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")
sync_api = pytest.importorskip("playwright.sync_api")

from studio_browser import (browser, fill, open_page, set_layers, shots, studio,  # noqa
                            start_toy_run, tid, wait_model_ok, wait_state)

AXE = os.environ.get("OURNN_AXE_CORE") or os.path.expanduser(
    "~/.cache/ournn/node_modules/axe-core/axe.min.js")


def phone(browser, url):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True,
                                  has_touch=True, device_scale_factor=2)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url)
    return context, page, errors


def small_targets(page):
    """Visible buttons, selects and inputs smaller than 44 px (checkboxes: their label)."""
    return page.evaluate("""() => {
        const out = [];
        for (const e of document.querySelectorAll('button, select, input, summary')) {
            const r = e.getBoundingClientRect();
            if (!r.width || e.closest('[hidden]') || getComputedStyle(e).visibility === 'hidden') continue;
            let box = r;
            if (e.type === 'checkbox' || e.type === 'file') box = (e.closest('label') || e).getBoundingClientRect();
            if (box.height < 44 || (e.tagName === 'BUTTON' && box.width < 44))
                out.push(`${e.dataset.testid || e.id || e.tagName} ${Math.round(box.width)}x${Math.round(box.height)}`);
        }
        return out; }""")


def test_a_phone_gets_a_layout_that_works(studio, browser, shots):
    url, _ = studio
    context, page, errors = phone(browser, url)
    tid(page, "dataset-select").select_option("mnist")
    wait_model_ok(page)
    page.wait_for_timeout(300)
    assert page.evaluate("document.scrollingElement.scrollWidth") <= 390     # no sideways
    small = small_targets(page)
    assert small == [], "\n".join(small)
    # the order of use: data, network, training, then drawing and the charts
    top = {name: page.locator(f"#{name}").bounding_box()["y"] for name in (
        "data-card", "network-card", "training-card", "draw-card", "charts-card", "graph-card")}
    assert top["data-card"] < top["network-card"] < top["training-card"] < top["draw-card"] \
        < top["charts-card"] < top["graph-card"], top
    assert top["draw-card"] < 2600, top
    # train briefly: the loss title and its legend do not overlap at this width
    fill(page, "epochs-input", 1)
    fill(page, "train-size-input", 2000)
    tid(page, "start-btn").click()
    wait_state(page, ["done"])
    title, boxes = page.evaluate("""() => {
        const svg = document.querySelector('[data-testid=loss-chart]');
        const box = (e) => { const r = e.getBoundingClientRect();
                             return {x: r.x, y: r.y, width: r.width, height: r.height}; };
        return [box(svg.querySelector('.title')), [...svg.querySelectorAll('.legend > g')].map(box)];
    }""")
    assert boxes
    for box in boxes:
        overlap_x = box["x"] < title["x"] + title["width"] and title["x"] < box["x"] + box["width"]
        overlap_y = box["y"] < title["y"] + title["height"] and title["y"] < box["y"] + box["height"]
        assert not (overlap_x and overlap_y), (title, box)
    small = small_targets(page)
    assert small == [], "\n".join(small)
    page.locator("#training-card").scroll_into_view_if_needed()
    page.evaluate("document.querySelector('#training-card').scrollIntoView()")
    shots(page, "studio_phone.png", full_page=False)        # one screen: what a phone shows
    assert errors == []
    context.close()


def test_words_are_not_cut_and_the_graph_says_it_goes_on(studio, browser):
    url, _ = studio
    context, page, errors = open_page(browser, url)
    tid(page, "dataset-select").select_option("mnist")
    tid(page, "zoo-select").select_option("lenet5")
    tid(page, "zoo-load").click()
    page.wait_for_function("document.querySelectorAll('[data-testid=layer-row]').length > 6")
    page.wait_for_function("document.querySelector('[data-testid=graph] svg')")
    tid(page, "graph-more").wait_for()
    assert "scroll" in tid(page, "graph-more").inner_text()
    # numbered as the layer list: the first layer is 1
    first = page.evaluate("[...document.querySelectorAll('[data-testid=graph] .node')][1]"
                          ".querySelector('tspan:last-child').textContent")
    assert first.startswith("1"), first
    tid(page, "graph").evaluate("g => g.scrollTop = g.scrollHeight")
    page.wait_for_function("document.querySelector('[data-testid=graph-more]').hidden")
    for selector in (".result", "table.cm th", ".bar-label", ".miss .tag"):
        assert page.evaluate(f"[...document.querySelectorAll('{selector}')].every(e => "
                             "getComputedStyle(e).wordBreak !== 'break-all')")
    assert errors == []
    context.close()


def run_axe(page):
    page.add_script_tag(path=AXE)
    return page.evaluate("""async () => {
        const r = await axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21aa']}});
        return r.violations.map(v => ({id: v.id, impact: v.impact,
            nodes: v.nodes.slice(0, 5).map(n => n.target.join(' ') + ': ' + (n.failureSummary || '').slice(0, 200))}));
    }""")


@pytest.mark.skipif(not os.path.exists(AXE), reason=f"axe-core is not installed at {AXE} (npm "
                    "install --no-save --no-package-lock --prefix ~/.cache/ournn axe-core@4.14.1)")
def test_axe_finds_nothing_serious(studio, browser):
    url, _ = studio
    context, page, errors = open_page(browser, url)
    start_toy_run(page, [("Linear", {"out_features": 6}), ("Tanh", {}),
                         ("Linear", {"out_features": 2})], 5)
    wait_state(page, ["done"])
    found = run_axe(page)
    serious = [v for v in found if v["impact"] in ("serious", "critical")]
    assert serious == [], serious
    tid(page, "dataset-select").select_option("mnist")           # images: the confusion matrix
    set_layers(page, [("Flatten", {}), ("Linear", {"out_features": 10})])
    wait_model_ok(page)
    fill(page, "epochs-input", 1)
    fill(page, "train-size-input", 2000)
    tid(page, "start-btn").click()
    wait_state(page, ["done"])
    serious = [v for v in run_axe(page) if v["impact"] in ("serious", "critical")]
    assert serious == [], serious
    # progress and predictions are announced to screen readers
    live = page.locator("[aria-live]")
    assert live.count() >= 1 and "Run 2 done" in tid(page, "announce").inner_text()
    assert errors == []
    context.close()
