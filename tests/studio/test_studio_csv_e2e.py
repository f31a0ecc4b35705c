"""A CSV file in the browser, to the end (issue 19): the preview shows its columns and values,
a row typed in the file's units is predicted, and a link to the set-up tells another browser
how to get the data, then applies itself when that file is uploaded."""
import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")
pytest.importorskip("playwright.sync_api")

from studio_browser import (browser, fill, open_page, set_layers, studio,  # noqa
                            tid, wait_model_ok, wait_state)
from test_studio_csv import flowers_csv  # noqa: E402


def upload(page, path):
    if not tid(page, "csv-file").is_visible():
        page.get_by_text("Upload a CSV file").click()
    tid(page, "csv-file").set_input_files(str(path))
    tid(page, "csv-upload").click()
    page.wait_for_function("document.querySelector('[data-testid=dataset-select]').value"
                           " === 'csv:flowers'")


def test_csv_preview_predict_a_row_and_a_link_elsewhere(studio, browser, tmp_path):
    url, _ = studio
    path = tmp_path / "flowers.csv"
    path.write_text(flowers_csv())
    context, page, errors = open_page(browser, url)
    upload(page, path)
    page.wait_for_function("document.querySelector('[data-testid=samples] th')")
    heads = page.locator("[data-testid=samples] th").all_inner_texts()
    assert heads == ["petal_mm", "weight_g", "stem_cm", "species"], heads
    first = page.locator("[data-testid=samples] tbody tr").first.inner_text()
    assert "small" in first or "large" in first
    assert 700 < float(first.split()[1]) < 1300             # grams, as in the file
    set_layers(page, [("Linear", {"out_features": 16}), ("ReLU", {}),
                      ("Linear", {"out_features": 2})])
    wait_model_ok(page)
    fill(page, "epochs-input", 20)
    fill(page, "lr-input", 0.01)
    fill(page, "batch-size-input", 16)
    link = page.url
    tid(page, "start-btn").click()
    wait_state(page, ["done"])
    # a row in the file's units
    assert tid(page, "predict-row").is_visible()
    values = tid(page, "row-value")
    assert values.count() == 3
    for i, v in enumerate(("46", "1120", "30")):
        values.nth(i).fill(v)
    tid(page, "predict-row-btn").click()
    page.wait_for_function("document.querySelector('[data-testid=predict-top]').textContent"
                           " === 'large'")
    for i, v in enumerate(("14", "880", "30")):
        values.nth(i).fill(v)
    tid(page, "predict-row-btn").click()
    page.wait_for_function("document.querySelector('[data-testid=predict-top]').textContent"
                           " === 'small'")
    assert "Prediction: small" in tid(page, "announce").inner_text()
    # the link in another browser: what to do, then the set-up on the uploaded file
    context2, other, errors2 = open_page(browser, link)
    other.wait_for_function("!document.querySelector('[data-testid=error-banner]').hidden")
    banner = tid(other, "error-banner").inner_text()
    assert "uploaded CSV file" in banner and "Upload a CSV file" in banner, banner
    upload(other, path)
    other.wait_for_function("document.querySelector('[data-testid=epochs-input]').value"
                            " === '20'")
    assert "The link's network and settings now apply" in tid(other, "csv-result").inner_text()
    assert tid(other, "layer-row").count() == 3
    assert errors == [] and errors2 == []
    context.close()
    context2.close()
