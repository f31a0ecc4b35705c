"""Your own data, usable to the end (issue 19): the CSV preview shows the file's column names
and values, predictions take a row in the file's units, and uploads survive a restart."""
import numpy as np
import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

from studio_server import Client, ThreadServer  # noqa: E402

LAYERS = [{"type": "Linear", "out_features": 16}, {"type": "ReLU"},
          {"type": "Linear", "out_features": 2}]


def flowers_csv(n=400, seed=0):
    """Two kinds told apart by petal length in millimetres (around 15 or 45) and weight in
    grams (around 900 or 1100): numbers far from the standardised scale."""
    rng = np.random.default_rng(seed)
    kind = rng.integers(0, 2, n)
    petal = np.where(kind == 1, 45.0, 15.0) + rng.normal(0, 4, n)
    weight = np.where(kind == 1, 1100.0, 900.0) + rng.normal(0, 40, n)
    stem = rng.normal(30, 5, n)                    # says nothing about the kind
    lines = ["petal_mm,weight_g,stem_cm,species"] + [
        f"{p:.1f},{w:.0f},{t:.1f},{'large' if k else 'small'}"
        for p, w, t, k in zip(petal, weight, stem, kind)]
    return "\n".join(lines) + "\n"


def train_on_flowers(c):
    status, r = c.post("/api/csv?name=flowers.csv", flowers_csv(), content_type="text/csv")
    assert status == 200, r
    name = r["dataset"]["name"]
    status, r = c.post("/api/train", {"dataset": name, "layers": LAYERS, "epochs": 20,
                                      "batch_size": 16, "lr": 0.01})
    assert status == 202, r
    assert c.wait_job()["state"] == "done"
    return name


def test_preview_in_the_files_columns_and_predictions_in_its_units(tmp_path):
    s = ThreadServer(tmp_path)
    try:
        c = Client(s.url)
        name = train_on_flowers(c)
        status, samples = c.get(f"/api/datasets/{name}/samples")
        assert samples["kind"] == "table"
        assert samples["columns"] == ["petal_mm", "weight_g", "stem_cm"]
        assert samples["label"] == "species"
        assert 0 < samples["x"][0][0] < 80 and 700 < samples["x"][0][1] < 1300   # as written
        # a raw row of each kind: the server standardises it as it did the file
        small = c.post("/api/predict", {"features": [14.0, 890.0, 30.0]})[1]
        large = c.post("/api/predict", {"features": [46.0, 1120.0, 30.0]})[1]
        assert small["classes"][small["prediction"]] == "small", small
        assert large["classes"][large["prediction"]] == "large", large
        assert max(large["probabilities"]) > 0.9
        status, r = c.post("/api/predict", {"features": [1.0]})
        assert status == 400 and "3 numbers" in r["error"]
    finally:
        s.close()


def test_uploads_survive_a_restart_of_the_studio(tmp_path):
    s = ThreadServer(tmp_path)
    c = Client(s.url)
    name = train_on_flowers(c)
    s.close()
    s = ThreadServer(tmp_path)                     # the same work folder, a new process state
    try:
        c.base = s.url                             # the same browser: its cookie comes back
        names = [d["name"] for d in c.get("/api/options")[1]["datasets"]]
        assert name in names
        status, r = c.post("/api/train", {"dataset": name, "layers": LAYERS, "epochs": 1})
        assert status == 202, r
        c.wait_job()
        other = Client(s.url)                      # another browser does not get them
        assert name not in [d["name"] for d in other.get("/api/options")[1]["datasets"]]
        # a forged cookie never becomes a path
        forged = Client(s.url)
        import http.cookiejar
        for value in ("../../etc", "a" * 31, "../" + "0" * 29):
            forged.jar.set_cookie(http.cookiejar.Cookie(
                0, "ournn_session", value, None, False, "127.0.0.1", False, False, "/", False,
                False, None, False, None, None, {}))
            status, opts = forged.get("/api/options")
            assert status == 200 and name not in [d["name"] for d in opts["datasets"]]
    finally:
        s.close()
