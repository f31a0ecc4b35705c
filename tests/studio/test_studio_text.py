"""A sequence model in the studio (issue 19): the character LSTM learns Shakespeare (the same
train_step and evaluate_lm as `ournn train --model charlstm`), and writes from a prompt, also
while it learns."""
import time

import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

from studio_server import Client, ThreadServer  # noqa: E402

TEXT = {"dataset": "shakespeare", "layers": [], "epochs": 2, "train_size": 30000,
        "batch_size": 32, "lr": 0.003}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    s = ThreadServer(tmp_path_factory.mktemp("studio-text"))
    try:
        s.app.state.studio.registry.get("shakespeare")
    except Exception as e:                              # no corpus on this machine
        s.close()
        pytest.skip(f"the Shakespeare corpus is not available: {e}")
    yield s
    s.close()


def test_the_character_model_learns_and_writes_while_it_learns(server):
    c = Client(server.url)
    status, r = c.post("/api/model/check", {"dataset": "shakespeare", "layers": []})
    assert r["ok"] and r["text_model"]["model"] == "charlstm" and r["output_shape"] == [84]
    assert c.post("/api/generate", {"prompt": "ROMEO:"})[0] == 409        # no model yet
    status, r = c.post("/api/train", {**TEXT, "until_paused": True})
    assert status == 202, r
    time.sleep(1.0)
    status, r = c.post("/api/generate", {"prompt": "ROMEO:", "length": 50})   # while learning
    assert status == 200 and r["text"].startswith("ROMEO:") and len(r["text"]) == 56
    deadline = time.time() + 120
    while c.get("/api/job")[1]["job"]["epoch"] < 2 and time.time() < deadline:
        time.sleep(0.2)
    c.post("/api/train/stop")
    job = c.wait_job()
    h = job["history"]
    assert job["state"] == "stopped" and len(h["val_loss"]) >= 2
    assert h["val_loss"][-1] < h["val_loss"][0] < 6.5          # bits per character, falling
    assert job["samples_per_sec"] > 0 and job["steps"]["loss"][0] > job["steps"]["loss"][-1]
    # the same prompt and seed write the same text; another temperature another one
    a = c.post("/api/generate", {"prompt": "KING:", "length": 80, "seed": 3})[1]["text"]
    b = c.post("/api/generate", {"prompt": "KING:", "length": 80, "seed": 3})[1]["text"]
    assert a == b
    for body, field in (({"prompt": ""}, "prompt"), ({"prompt": "€"}, "prompt"),
                        ({"prompt": "a", "length": 0}, "length"),
                        ({"prompt": "a", "temperature": 5}, "temperature"),
                        ({"prompt": 3}, "prompt")):
        status, r = c.post("/api/generate", body)
        assert status == 400 and r["field"] == field, (body, r)
    # what the layer networks have and text does not: a 4xx saying so
    assert c.post("/api/predict", {"features": [1.0]})[0] == 400
    assert c.post("/api/export", TEXT)[0] == 400
    status, r = c.post("/api/train", {**TEXT, "layers": [{"type": "ReLU"}]})
    assert status == 400 and r["field"] == "layers"
    # continuing goes on from the weights and the optimizer state
    status, r = c.post("/api/train", {**TEXT, "epochs": 1, "continue": True})
    assert status == 202 and r["job"]["source"]["optimizer"] is True
    job = c.wait_job()
    assert job["history"]["val_loss"][0] < h["val_loss"][0]


def test_a_model_of_the_toys_does_not_write(server):
    c = Client(server.url)
    c.post("/api/train", {"dataset": "moons", "epochs": 1,
                          "layers": [{"type": "Linear", "out_features": 2}]})
    c.wait_job()
    status, r = c.post("/api/generate", {"prompt": "hello"})
    assert status == 400 and "not on text" in r["error"]


def test_a_saved_character_model_loads_back_and_a_forged_one_is_refused(server, tmp_path):
    import io
    import zipfile
    c = Client(server.url)
    c.post("/api/train", {**TEXT, "epochs": 1})
    c.wait_job()
    status, r = c.post("/api/model/save", {"name": "bard",
                                           "setup": {"dataset": "shakespeare", "layers": []}})
    assert status == 200, r
    raw = open(r["path"], "rb").read()
    other = Client(server.url)
    status, r = other.post("/api/model/load?name=bard.ckpt", raw)
    assert status == 200 and r["dataset"] == "shakespeare" and r["setup"]["layers"] == []
    assert other.post("/api/generate", {"prompt": "A", "length": 10})[0] == 200
    # the same file declaring a character model far over the studio's limits: refused before
    # anything is built
    src = zipfile.ZipFile(io.BytesIO(raw))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "__meta__.json":
                data = data.replace(b'"hidden_size": 128', b'"hidden_size": 100000')
                assert b"100000" in data
            z.writestr(info, data)
    status, r = other.post("/api/model/load?name=big.ckpt", out.getvalue())
    assert status == 400 and "hidden_size" in r["error"], r
