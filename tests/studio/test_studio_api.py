"""The studio's HTTP API against a real server: setups, bad input (always a 4xx with a message,
never a crash), sessions shared by tabs, training, events, predictions, save/load, export, CSV."""
import concurrent.futures
import io
import os
import pickle
import re
import signal
import socket
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
import zipfile

import numpy as np
import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

import ournn  # noqa: E402
from studio_server import TOY, Client, assert_error, start_cli_server  # noqa: E402

MLP = [{"type": "Flatten"}, {"type": "Linear", "out_features": 32}, {"type": "ReLU"},
       {"type": "Linear", "out_features": 10}]


# ---------------------------------------------------------------- reading
def test_page_options_and_cookie(client):
    status, html = client.get("/")
    assert status == 200 and b"<html" in html.lower()
    assert any(c.name == "ournn_session" for c in client.jar)
    status, opts = client.get("/api/options")
    names = [d["name"] for d in opts["datasets"]]
    assert names[:6] == ["mnist", "fashion-mnist", "moons", "circles", "spirals", "xor"]
    assert {"Linear", "Conv2d", "MaxPool2d", "BatchNorm", "Dropout", "ReLU"} <= set(opts["layers"])
    assert opts["layers"]["Linear"]["out_features"]["max"] == opts["limits"]["max_units"]
    assert "cnn" in opts["zoo"] and "adam" in opts["optimizers"]


def test_samples(client):
    status, s = client.get("/api/datasets/fashion-mnist/samples?n=5")
    assert status == 200 and s["kind"] == "image" and len(s["images"]) == 5
    assert len(s["images"][0]) == 784 and max(s["images"][0]) <= 255
    assert s["classes"][0] == "T-shirt/top"
    status, s = client.get("/api/datasets/spirals/samples")
    assert s["kind"] == "points" and len(s["x"][0]) == 2 and set(s["y"]) == {0, 1, 2}
    assert_error(*client.get("/api/datasets/cifar/samples"), 404, "cifar")
    assert_error(*client.get("/api/datasets/moons/samples?n=x"), 400, "n")


# ---------------------------------------------------------------- checking a network
def test_check_ok_and_the_graph(client):
    status, r = client.post("/api/model/check", {"dataset": "mnist", "layers": MLP})
    assert status == 200 and r["ok"], r
    assert [row["shape"] for row in r["rows"]] == [[784], [32], [32], [10]]
    assert r["total_params"] == 784 * 32 + 32 + 32 * 10 + 10
    # The drawing: one box per layer plus Input and Output, labelled with type, output shape
    # and name, joined as the chain the layers form.
    svg = "{http://www.w3.org/2000/svg}"
    root = ET.fromstring(r["svg"])
    first_lines = {}
    for g in root.iter(f"{svg}g"):
        if g.get("class") == "node":
            lines = ["".join(t.itertext()) for t in g.iter(f"{svg}tspan")]
            first_lines[g.get("id")] = lines
    titles = sorted(lines[0] for lines in first_lines.values())
    assert titles == sorted(["Input", "Flatten", "Linear W<32 x 784>", "ReLU",
                             "Linear W<10 x 32>", "Output"])
    by_title = {lines[0]: nid for nid, lines in first_lines.items()}
    assert first_lines[by_title["Input"]][1] == "(N, 1, 28, 28)"
    assert first_lines[by_title["Linear W<32 x 784>"]][1:] == ["(N, 32)", "1: 25,120 params"]
    edges = {(p.get("data-src"), p.get("data-dst")) for p in root.iter(f"{svg}path")
             if p.get("class") == "edge"}
    chain = ["Input", "Flatten", "Linear W<32 x 784>", "ReLU", "Linear W<10 x 32>", "Output"]
    assert edges == {(by_title[a], by_title[b]) for a, b in zip(chain, chain[1:])}


def test_check_names_the_layer_where_shapes_stop_fitting(client):
    layers = [{"type": "Conv2d", "out_channels": 8, "kernel_size": 3}, {"type": "Flatten"},
              {"type": "MaxPool2d"}, {"type": "Linear", "out_features": 10}]
    status, r = client.post("/api/model/check", {"dataset": "mnist", "layers": layers})
    assert status == 200 and not r["ok"]
    assert r["error"]["index"] == 2 and "MaxPool2d" in r["error"]["message"]
    assert [row["shape"] for row in r["rows"]] == [[8, 26, 26], [5408]]
    # a kernel larger than the image
    layers = [{"type": "Conv2d", "out_channels": 4, "kernel_size": 15},
              {"type": "Conv2d", "out_channels": 4, "kernel_size": 15}]
    status, r = client.post("/api/model/check", {"dataset": "mnist", "layers": layers})
    assert not r["ok"] and r["error"]["index"] == 1
    # the output must match the classes
    status, r = client.post("/api/model/check", {"dataset": "moons", "layers": TOY[:2]})
    assert not r["ok"] and "2 classes" in r["error"]["message"]


def test_bad_layers_are_400_with_the_field(client):
    def check(layers, *words):
        assert_error(*client.post("/api/model/check", {"dataset": "mnist", "layers": layers}),
                     400, *words)
    check([{"type": "Transformer"}], "unknown layer type", "layers[0].type")
    check([{"type": "Flatten"}, {"type": "Linear", "out_features": 10 ** 9}],
          "layers[1].out_features", "between")
    check([{"type": "Linear", "out_features": "ten"}], "must be a number")
    check([{"type": "Linear", "out_features": 2.5}], "whole number")
    check([{"type": "Dropout", "p": 1.0}], "layers[0].p")
    check([{"type": "Linear", "units": 3}], "unknown parameter")
    check([{"type": "ReLU"}] * 65, "at most 64 layers")
    check([], "no layers")
    check("Linear", "must be a list")
    check([["Linear", 3]], "must be an object")


def test_too_many_parameters_is_refused_naming_the_big_layer(client):
    # the 4096 x 4096 layer (16.8 million) is the one to shrink, though the small one after
    # it is where the total passes 20 million
    layers = [{"type": "Flatten"}] + [{"type": "Linear", "out_features": 4096}] * 2 + \
             [{"type": "Linear", "out_features": 1024}, {"type": "Linear", "out_features": 10}]
    status, r = client.post("/api/model/check", {"dataset": "mnist", "layers": layers})
    assert not r["ok"] and r["error"]["index"] == 2, r["error"]
    message = r["error"]["message"]
    assert "20,000,000" in message and "Linear 4096 -> 4096" in message, message
    assert "16,781,312" in message and "smaller" in message


def test_a_window_larger_than_its_image_is_said_in_the_pages_terms(client):
    pools = [{"type": "Conv2d", "out_channels": 8, "kernel_size": 5}] + \
            [{"type": "MaxPool2d"}] * 5
    status, r = client.post("/api/model/check", {"dataset": "mnist", "layers": pools})
    assert not r["ok"] and r["error"]["index"] == 5
    message = r["error"]["message"]
    assert "MaxPool2d" in message and "2x2" in message and "1x1" in message, message
    # neither the batch dimension nor the function under the layer
    assert "max_pool2d" not in message and "(1, 8, 1, 1)" not in message, message
    conv = [{"type": "Conv2d", "out_channels": 4, "kernel_size": 15},
            {"type": "Conv2d", "out_channels": 4, "kernel_size": 15}]
    status, r = client.post("/api/model/check", {"dataset": "mnist", "layers": conv})
    assert r["error"]["index"] == 1 and "15x15" in r["error"]["message"]
    assert "14x14" in r["error"]["message"] and "conv2d" not in r["error"]["message"]


def test_malformed_requests(client):
    assert_error(*client.post("/api/model/check", "{not json", content_type="application/json"),
                 400, "not valid JSON")
    assert_error(*client.post("/api/model/check", "[1, 2]", content_type="application/json"),
                 400, "JSON object")
    assert_error(*client.post("/api/model/check", "dataset=mnist",
                              content_type="application/x-www-form-urlencoded"), 415)
    assert_error(*client.post("/api/model/check", b"\xff\xfe", content_type="application/json"),
                 400, "not valid JSON")
    # a body declared larger than the limit is refused before it is read
    with socket.create_connection(("127.0.0.1", int(client.base.rsplit(":", 1)[1]))) as sock:
        host = client.base.split("//", 1)[1].encode()
        sock.sendall(b"POST /api/model/check HTTP/1.1\r\nHost: " + host + b"\r\n"
                     b"Content-Type: application/json\r\nContent-Length: 5000000\r\n\r\n{")
        sock.settimeout(10)
        reply = b""
        while not reply.endswith(b"}"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            reply += chunk
        reply = reply.decode()
    assert reply.startswith("HTTP/1.1 413") and "larger than 1 MB" in reply
    assert_error(*client.get("/api/nothing"), 404)
    assert_error(*client.get("/api/train"), 405)
    assert_error(*client.post("/api/model/check", {"dataset": "imagenet", "layers": MLP}), 404,
                 "imagenet")
    assert_error(*client.get("/api/zoo/resnet"), 404, "resnet")
    assert_error(*client.get("/api/zoo/cnn?dataset=moons"), 400, "not an image dataset")


def test_zoo_layers_check_and_match_the_zoo_model(client):
    from ournn.models import get_model
    for name in ("cnn", "lenet5"):
        status, r = client.get(f"/api/zoo/{name}?dataset=fashion-mnist")
        assert status == 200
        status, c = client.post("/api/model/check", {"dataset": "fashion-mnist",
                                                     "layers": r["layers"]})
        assert c["ok"], c
        assert c["total_params"] == sum(p.numpy().size for p in get_model(name).parameters())


@pytest.mark.parametrize("setup, words", [
    ({"epochs": 0}, ("epochs", "between")),
    ({"epochs": 10 ** 6}, ("epochs",)),
    ({"batch_size": -1}, ("batch_size",)),
    ({"lr": "fast"}, ("lr", "must be a number")),
    ({"lr": 0}, ("lr",)),
    ({"optimizer": "lbfgs"}, ("unknown optimizer",)),
    ({"train_size": 70000}, ("train_size",)),
    ({"colour": "red"}, ("unknown setting",)),
    ({"schedule": "warm"}, ("unknown schedule",)),
    ({"augment": "flip"}, ("unknown augment",)),
    ({"weight_decay": 2}, ("weight_decay",)),
])
def test_bad_training_setups(client, setup, words):
    body = {"dataset": "mnist", "layers": MLP, **setup}
    assert_error(*client.post("/api/train", body), 400, *words)


def test_a_full_server_says_so(client, monkeypatch):
    from ournn.studio import server as studio_server
    monkeypatch.setattr(studio_server, "MAX_JOBS", 0)
    assert_error(*client.post("/api/train", {"dataset": "moons", "layers": TOY}), 503,
                 "already running 0 training jobs")


def test_augmentation_is_for_images(client):
    assert_error(*client.post("/api/train", {"dataset": "moons", "layers": TOY,
                                             "augment": "shift"}), 400, "not an image dataset")


def test_the_exported_script_trains_exactly_as_the_studio(client, tmp_path):
    setup = {"dataset": "mnist", "layers": MLP, "epochs": 2, "train_size": 1500,
             "batch_size": 50, "optimizer": "nesterov", "lr": 0.05, "weight_decay": 1e-4,
             "schedule": "onecycle", "augment": "shift"}
    status, _ = client.post("/api/train", setup)
    assert status == 202
    job = client.wait_job()
    assert job["state"] == "done"
    status, script = client.post("/api/export", setup)
    (tmp_path / "run.py").write_bytes(script)
    out = subprocess.run([sys.executable, "run.py"], capture_output=True, text=True,
                         cwd=tmp_path, timeout=300)
    assert out.returncode == 0, out.stderr
    result = eval(out.stdout.strip().splitlines()[-1], {})
    assert result["accuracy"] == job["history"]["val_accuracy"][-1]
    assert abs(result["loss"] - job["history"]["val_loss"][-1]) < 1e-6


def test_a_batch_that_cannot_fit_in_memory_is_refused(client):
    layers = [{"type": "Conv2d", "out_channels": 512, "kernel_size": 3, "padding": 1},
              {"type": "Flatten"}, {"type": "Linear", "out_features": 10}]
    status, r = client.post("/api/train", {"dataset": "mnist", "layers": layers,
                                           "batch_size": 4096})
    assert_error(status, r, 400)
    assert "GiB" in r["error"] or "parameters" in r["error"]


# ---------------------------------------------------------------- training
def test_train_events_tabs_predict_save_load(server, client, tmp_path):
    # no model yet
    assert_error(*client.post("/api/predict", {"pixels": [[0.0] * 28] * 28}), 409, "no model")
    assert_error(*client.post("/api/train/stop"), 409)
    setup = {"dataset": "mnist", "layers": MLP, "epochs": 2, "train_size": 2000,
             "batch_size": 50}
    # a second tab of the same browser listens to the events before the job starts
    tab2 = Client(server.url)
    tab2.jar = client.jar
    tab2.opener = client.opener
    stream = concurrent.futures.ThreadPoolExecutor(1).submit(tab2.events, "done")
    time.sleep(0.5)
    status, r = client.post("/api/train", setup)
    assert status == 202 and r["job"]["state"] == "running"
    # the second tab sees the job; another browser does not
    assert tab2.get("/api/job")[1]["job"]["id"] == r["job"]["id"]
    other = Client(server.url)
    assert other.get("/api/job")[1]["job"] is None
    assert_error(*client.post("/api/train", setup), 409, "already running")
    events = stream.result(120)
    names = [e for e, _ in events]
    assert names[0] == "snapshot" and names[-1] == "done"
    assert names.count("epoch") == 2 and "batch" in names and "confusion" in names
    epochs = [d for e, d in events if e == "epoch"]
    assert epochs[1]["loss"] < epochs[0]["loss"]
    confusion = [d for e, d in events if e == "confusion"][-1]
    assert np.sum(confusion["matrix"]) == confusion["samples"]
    job = client.wait_job()
    assert job["state"] == "done" and job["history"]["epoch"] == [1, 2]
    assert job["samples_per_sec"] > 0 and len(job["history"]["time"]) == 2
    assert job["history"]["val_accuracy"][-1] > 0.8
    assert len(job["steps"]["loss"]) == 80
    stats = job["layer_stats"]
    assert stats[0] is None and stats[2] is None and stats[1]["grad_rms"] > 0
    assert stats[3]["weight_rms"] > 0
    assert os.path.exists(job["checkpoint"])

    # a drawn "1": a vertical bar
    drawing = np.zeros((56, 56))
    drawing[8:48, 26:31] = 1
    status, p = client.post("/api/predict", {"pixels": drawing.tolist()})
    assert status == 200 and abs(sum(p["probabilities"]) - 1) < 1e-5
    assert len(p["classes"]) == 10 and p["prediction"] == int(np.argmax(p["probabilities"]))
    assert_error(*client.post("/api/predict", {"pixels": [[0.0] * 28] * 28}), 400, "blank")
    assert_error(*client.post("/api/predict", {"pixels": [[1, 2], [3]]}), 400, "pixels")
    assert_error(*client.post("/api/predict", {"pixels": [[0.5] * 2000] * 2}), 400, "pixels")
    assert_error(*client.post("/api/predict", {"features": [1, 2]}), 400, "784")
    assert_error(*client.post("/api/predict", {}), 400)

    # save, download, and load back in a fresh session
    assert_error(*client.post("/api/model/save", {"name": "../../etc/passwd"}), 400, "name")
    status, s = client.post("/api/model/save", {"name": "mlp-test"})
    assert status == 200 and s["path"].endswith("mlp-test.ckpt") and os.path.exists(s["path"])
    # saving again under the same name keeps the first file
    status, s2 = client.post("/api/model/save", {"name": "mlp-test"})
    assert s2["name"] == "mlp-test-2" and os.path.exists(s["path"]) and os.path.exists(s2["path"])
    status, s3 = client.post("/api/model/save", {"name": "mlp-test", "overwrite": True})
    assert s3["path"] == s["path"]
    assert_error(*client.post("/api/model/save", {"name": "x", "overwrite": "yes"}), 400)
    status, blob = client.get(s["download"], raw=True)
    with open(s["path"], "rb") as f:
        assert status == 200 and blob == f.read()
    assert_error(*client.get("/api/model/download?name=nope"), 404)
    assert_error(*Client(server.url).get(s["download"]), 404)     # another session's save
    fresh = Client(server.url)
    status, loaded = fresh.post("/api/model/load", blob)
    assert status == 200, loaded
    assert loaded["setup"]["layers"] == job["setup"]["layers"]
    assert loaded["dataset"] == "mnist" and loaded["total_params"] == 25450
    status, p2 = fresh.post("/api/predict", {"pixels": drawing.tolist()})
    assert np.allclose(p2["probabilities"], p["probabilities"], atol=1e-6)

    # the saved file is what `ournn eval` and `ournn predict` read
    from ournn.train.run import load_model
    model, meta = load_model(s["path"])
    assert meta["dataset"] == "mnist" and meta["input_shape"] == [1, 28, 28]


def test_pause_resume_stop_keeps_a_complete_checkpoint(client):
    setup = {"dataset": "moons", "layers": TOY, "epochs": 500, "batch_size": 4}
    status, r = client.post("/api/train", setup)
    assert status == 202
    time.sleep(0.5)
    status, r = client.post("/api/train/pause")
    assert r["job"]["state"] == "paused"
    time.sleep(0.3)
    step = client.get("/api/job")[1]["job"]["global_step"]
    time.sleep(0.5)
    job = client.get("/api/job")[1]["job"]
    assert job["global_step"] == step and job["state"] == "paused"
    # predictions work while paused (the same weights)
    assert client.post("/api/predict", {"features": [0.0, 0.5]})[0] == 200
    assert client.post("/api/train/resume")[1]["job"]["state"] == "running"
    time.sleep(0.5)
    assert client.get("/api/job")[1]["job"]["global_step"] > step
    # while it runs, a prediction is served between two steps
    status, p = client.post("/api/predict", {"features": [0.0, 0.5]})
    assert status == 200 and len(p["probabilities"]) == 2
    assert client.post("/api/train/stop")[1]["job"]["state"] == "stopping"
    job = client.wait_job()
    assert job["state"] == "stopped" and job["epoch"] < 500
    assert job["boundary"]["n"] ** 2 == len(job["boundary"]["pred"])
    from ournn.io import load
    state = load(job["checkpoint"], rebuild=False)
    assert state["trainer"]["global_step"] >= job["global_step"] - 1


def test_two_starts_at_once_give_one_job(client):
    client.get("/api/options")                     # the session cookie first
    setup = {"dataset": "moons", "layers": TOY, "epochs": 3}
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: client.post("/api/train", setup)[0], range(4)))
    assert sorted(answers) == [202, 409, 409, 409]
    assert client.wait_job()["state"] == "done"


@pytest.mark.filterwarnings("ignore::RuntimeWarning")     # the overflow is the point
def test_a_diverging_run_fails_with_a_message_and_keeps_the_last_good_checkpoint(client):
    layers = [{"type": "Linear", "out_features": 64}, {"type": "ReLU"},
              {"type": "Linear", "out_features": 64}, {"type": "ReLU"},
              {"type": "Linear", "out_features": 2}]
    status, _ = client.post("/api/train", {"dataset": "moons", "layers": layers, "epochs": 5,
                                           "optimizer": "sgd", "lr": 10.0, "seed": 0})
    assert status == 202
    job = client.wait_job()
    assert job["state"] == "failed"
    failed_at = re.search(r"loss became (nan|inf|-inf) at epoch (\d+), step \d+", job["error"])
    assert failed_at and "lower learning rate" in job["error"], job["error"]
    if job["checkpoint"]:          # the last good one: from the epoch before
        from ournn.io import load
        epoch = load(job["checkpoint"], rebuild=False)["trainer"]["epoch"]
        assert epoch == int(failed_at.group(2)) - 1
    else:
        assert failed_at.group(2) == "1"
    # the session can start again at once
    status, _ = client.post("/api/train", {"dataset": "moons", "layers": layers, "epochs": 1})
    assert status == 202
    assert client.wait_job()["state"] == "done"


# ---------------------------------------------------------------- checkpoints from users
def test_loading_bad_files_is_400(client, tmp_path):
    assert_error(*client.post("/api/model/load", b"hello"), 400, "file")
    assert_error(*client.post("/api/model/load", b""), 400, "empty")
    assert_error(*client.post("/api/model/load", b"x", content_type="text/plain"), 415)
    # a pickle is never unpickled
    evil = pickle.dumps({"model": "boom"})
    status, r = client.post("/api/model/load", evil)
    assert_error(status, r, 400)
    # an npz holding a pickled object array
    buf = io.BytesIO()
    np.savez(buf, x=np.array([{"a": 1}], dtype=object))
    assert_error(*client.post("/api/model/load", buf.getvalue()), 400)
    # a zip that is not ours
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("hello.txt", "hi")
    assert_error(*client.post("/api/model/load", buf.getvalue()), 400, "not an ournn")
    # a model the studio cannot show (a state dict alone has no architecture)
    import ournn
    from ournn import nn
    ournn.save(nn.Linear(3, 2).state_dict(), tmp_path / "sd.ckpt")
    assert_error(*client.post("/api/model/load", (tmp_path / "sd.ckpt").read_bytes()), 400)


# ---------------------------------------------------------------- CSV
def _csv(rows, header="a,b,label"):
    return header + "\n" + "\n".join(",".join(str(v) for v in r) for r in rows) + "\n"


def test_csv_upload_and_training(client):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 3))
    y = np.where(x[:, 0] + x[:, 2] > 0, "yes", "no")
    text = _csv([[*map(lambda v: round(v, 4), xi), yi] for xi, yi in zip(x, y)],
                header="f1,f2,f3,answer")
    status, r = client.post("/api/csv?name=my%20data.csv", text, content_type="text/csv")
    assert status == 200, r
    ds = r["dataset"]
    assert ds["name"] == "csv:my_data" and ds["kind"] == "table" and ds["classes"] == ["no", "yes"]
    assert ds["input_shape"] == [3] and ds["train_size"] + ds["test_size"] == 300
    assert ds["name"] in [d["name"] for d in client.get("/api/options")[1]["datasets"]]
    layers = [{"type": "Linear", "out_features": 8}, {"type": "ReLU"},
              {"type": "Linear", "out_features": 2}]
    status, _ = client.post("/api/train", {"dataset": ds["name"], "layers": layers,
                                           "epochs": 30, "lr": 0.01})
    assert status == 202
    job = client.wait_job()
    assert job["state"] == "done" and job["history"]["val_accuracy"][-1] > 0.9
    # another session does not see this upload
    assert_error(*Client(client.base).get(f"/api/datasets/{ds['name']}/samples"), 404)


def test_uploads_are_bounded_in_all(client, monkeypatch):
    from ournn.studio import server as studio_server
    monkeypatch.setattr(studio_server, "UPLOADS_MAX_BYTES", 4000)
    rows = "\n".join(f"{i},{i % 7},{i % 2}" for i in range(300))
    status, r = client.post("/api/csv?name=big.csv", "a,b,label\n" + rows, content_type="text/csv")
    assert_error(status, r, 413, "at most")


@pytest.mark.parametrize("text, words", [
    ("a,b,label\n1,2,x\n3,oops,y\n", ("row 3", "'b'", "not a number")),
    ("a,b,label\n1,2,x\n3,4\n", ("row 3", "2 values")),
    ("a,b,label\n1,2,x\n3,4,x\n", ("single value",)),
    ("just one line\n", ("header row",)),
    ("a\n1\n2\n3\n", ("at least two columns",)),
    ("a,b,label\n1,nan,x\n2,3,y\n", ("NaN",)),
    ("a,b,label\n1,2,x\n2,1e40,y\n", ("row 3", "'b'", "too large")),
])
def test_bad_csv_files(client, text, words):
    assert_error(*client.post("/api/csv", text, content_type="text/csv"), 400, *words)


def test_csv_label_column_and_binary_files(client):
    text = "label,a,b\nx,1,2\ny,3,4\nx,5,6\ny,7,8\n"
    status, r = client.post("/api/csv?label=label", text, content_type="text/csv")
    assert status == 200 and r["dataset"]["classes"] == ["x", "y"]
    assert_error(*client.post("/api/csv?label=nope", text, content_type="text/csv"), 400,
                 "no column named 'nope'")
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
    assert_error(*client.post("/api/csv", png, content_type="text/csv"), 400, "not text")
    assert_error(*client.post("/api/csv", text, content_type="application/json"), 415)


# ---------------------------------------------------------------- export
def test_exported_script_runs_and_trains(client, tmp_path):
    setup = {"dataset": "moons", "layers": TOY, "epochs": 40, "lr": 0.02, "batch_size": 32}
    status, script = client.post("/api/export", setup)
    assert status == 200
    script = script.decode()
    assert "nn.Linear(2, 16)" in script and "nn.Tanh()" in script and "epochs=40" in script
    path = tmp_path / "moons_studio.py"
    path.write_text(script)
    out = subprocess.run([sys.executable, str(path)], capture_output=True, text=True,
                         cwd=tmp_path, timeout=120)
    assert out.returncode == 0, out.stderr
    result = eval(out.stdout.strip().splitlines()[-1], {})   # the evaluate() dict
    assert result["accuracy"] > 0.85
    assert (tmp_path / "moons-model.ckpt").exists()
    assert_error(*client.post("/api/export", {"dataset": "moons", "layers": TOY[:1]}), 400,
                 "classes")


def test_exported_scripts_for_mnist_and_a_csv_run(client, tmp_path):
    def run(setup, name):
        status, script = client.post("/api/export", setup)
        assert status == 200
        (tmp_path / name).write_bytes(script)
        out = subprocess.run([sys.executable, name], capture_output=True, text=True,
                             cwd=tmp_path, timeout=300)
        assert out.returncode == 0, out.stderr
        return eval(out.stdout.strip().splitlines()[-1], {})

    mnist = {"dataset": "mnist", "layers": MLP, "epochs": 1, "train_size": 2000}
    assert run(mnist, "mnist_studio.py")["accuracy"] > 0.5        # it learns (chance: 0.1)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(200, 2))
    text = _csv([[round(a, 4), round(b, 4), "in" if a * a + b * b < 1 else "out"]
                 for a, b in x])
    (tmp_path / "ring.csv").write_text(text)
    status, r = client.post("/api/csv?name=ring.csv", text, content_type="text/csv")
    layers = [{"type": "Linear", "out_features": 16}, {"type": "ReLU"},
              {"type": "Linear", "out_features": 2}]
    setup = {"dataset": r["dataset"]["name"], "layers": layers, "epochs": 60, "lr": 0.01,
             "batch_size": 16}
    result = run(setup, "ring_studio.py")
    assert result["accuracy"] > 0.85
    # the same data, split and training as in the studio: the same accuracy
    assert client.post("/api/train", setup)[0] == 202
    assert result["accuracy"] == client.wait_job()["history"]["val_accuracy"][-1]


# ---------------------------------------------------------------- stopping the server
def wait_for(client, key, at_least, timeout=60):
    """Until the job's ``key`` (global_step, epoch) reaches ``at_least``."""
    deadline = time.time() + timeout
    while client.get("/api/job")[1]["job"][key] < at_least:
        assert time.time() < deadline, f"the job's {key} did not reach {at_least}"
        time.sleep(0.05)


def _checkpoints_complete(workdir):
    from ournn.io import load
    ckpts = [os.path.join(r, f) for r, _, fs in os.walk(workdir) for f in fs
             if f.endswith(".ckpt")]
    for c in ckpts:
        load(c, rebuild=False)          # raises on a truncated or corrupt file
    return ckpts


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_stopping_the_server_mid_training_saves_a_complete_checkpoint(tmp_path, sig):
    proc, url = start_cli_server(tmp_path)
    try:
        c = Client(url)
        layers = [{"type": "Flatten"}, {"type": "Linear", "out_features": 256},
                  {"type": "ReLU"}, {"type": "Linear", "out_features": 10}]
        status, _ = c.post("/api/train", {"dataset": "mnist", "layers": layers, "epochs": 50,
                                          "batch_size": 32})
        assert status == 202
        wait_for(c, "global_step", 20)
        assert c.get("/api/job")[1]["job"]["epoch"] == 0      # mid-epoch
        proc.send_signal(sig)
        # Ctrl-C exits 130, as `ournn train` does; SIGTERM ends it as the signal asks
        assert proc.wait(60) in ((130,) if sig == signal.SIGINT else (0, -signal.SIGTERM))
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stdout.close()
    ckpts = _checkpoints_complete(tmp_path)
    assert len(ckpts) == 1
    from ournn.io import load
    state = load(ckpts[0], rebuild=False)
    assert state["trainer"]["epoch"] == 0 and state["trainer"]["step"] >= 20
    leftovers = [f for _, _, fs in os.walk(tmp_path) for f in fs if f.endswith(".part")]
    assert leftovers == []


def test_a_killed_server_never_leaves_a_half_written_checkpoint(tmp_path):
    """SIGKILL while checkpoints are written many times a second: every .ckpt that exists is
    complete; the next start removes any temporary file the kill left."""
    proc, url = start_cli_server(tmp_path)
    try:
        c = Client(url)
        status, _ = c.post("/api/train", {"dataset": "xor", "layers": TOY, "epochs": 500,
                                          "batch_size": 256})
        assert status == 202
        wait_for(c, "epoch", 20)
        proc.kill()
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stdout.close()
    assert len(_checkpoints_complete(tmp_path)) >= 1
    proc, url = start_cli_server(tmp_path)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) in (0, -signal.SIGTERM)
    proc.stdout.close()
    assert [f for _, _, fs in os.walk(tmp_path) for f in fs if f.endswith(".part")] == []
    _checkpoints_complete(tmp_path)


def test_without_the_extra_the_command_says_what_to_install(monkeypatch, capsys):
    from ournn.cli import main
    monkeypatch.setitem(sys.modules, "starlette", None)
    assert main(["studio", "--no-browser"]) == 1
    err = capsys.readouterr().err
    assert "pip install 'ournn[studio]'" in err and "starlette" in err


# ---------------------------------------------------------------- never a crash
def _json_values():
    from hypothesis import strategies as st
    scalars = st.one_of(st.none(), st.booleans(), st.integers(-10 ** 12, 10 ** 12),
                        st.floats(allow_nan=False, allow_infinity=False),
                        st.text(max_size=12),
                        st.sampled_from(["Linear", "Conv2d", "mnist", "moons", "adam", "relu"]))
    return st.recursive(scalars, lambda inner: st.one_of(
        st.lists(inner, max_size=5), st.dictionaries(st.text(max_size=12), inner, max_size=5)),
        max_leaves=20)


def _layer_dicts():
    from hypothesis import strategies as st
    from ournn.studio.spec import LAYERS
    param = st.sampled_from(sorted({p for params in LAYERS.values() for p in params}))
    value = st.one_of(st.none(), st.booleans(), st.integers(-5, 5000),
                      st.floats(-2, 2, allow_nan=False), st.text(max_size=3))
    return st.builds(lambda t, extra: {"type": t, **extra},
                     st.sampled_from(sorted(LAYERS) + ["Bogus"]),
                     st.dictionaries(param, value, max_size=3))


def test_random_requests_never_crash_the_server(server):
    """Any JSON at all, and networks of random layers with random parameters, get a 2xx or a
    4xx with a message: never a 500."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st
    client = Client(server.url)
    client.get("/api/options")
    setups = st.fixed_dictionaries(
        {"dataset": st.sampled_from(["mnist", "moons", "spirals", "nope"]),
         "layers": st.lists(_layer_dicts(), max_size=6)},
        optional={"epochs": st.integers(-1, 3), "batch_size": st.integers(-1, 5000),
                  "lr": st.floats(-1, 20, allow_nan=False), "train_size": st.integers(-1, 300),
                  "optimizer": st.sampled_from(["adam", "sgd", "x"])})

    def post(path, body):
        status, answer = client.post(path, body)
        assert status < 500, (path, body, answer)
        if status >= 400:
            assert answer["error"], answer
        return status

    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
    @given(body=st.one_of(_json_values(), setups), path=st.sampled_from(
        ["/api/model/check", "/api/export", "/api/predict", "/api/model/save", "/api/train"]))
    def check(body, path):
        if post(path, body) == 202:          # a valid setup started training: stop it
            client.post("/api/train/stop")
            client.wait_job()

    check()


def test_random_csv_files_are_read_or_refused_with_a_message():
    from hypothesis import example, given, settings
    from hypothesis import strategies as st

    from ournn.studio.datasets import parse_csv
    from ournn.studio.spec import SpecError
    cell = st.one_of(st.integers(-5, 5).map(str), st.floats(-1e3, 1e3).map(str),
                     st.sampled_from(["", "a", "nan", "inf", " ", '"x,y"', "1e40", "-"]))
    rows = st.lists(st.lists(cell, min_size=1, max_size=4), max_size=8)
    text = st.one_of(rows.map(lambda rs: "\n".join(",".join(r) for r in rs)),
                     st.text(max_size=60))

    @settings(max_examples=300, deadline=None)
    @given(data=st.one_of(text.map(str.encode), st.binary(max_size=60)))
    @example(data=b"\r0")
    @example(data=b'a,b\n"1,2\n3,4')
    def check(data):
        try:
            ds = parse_csv(data, "random.csv")
        except SpecError as e:
            assert str(e)
        else:
            assert np.isfinite(ds.x).all() and len(ds.classes) >= 2
            assert len(ds.x) + len(ds.tx) >= 2

    check()


def test_ournn_studio_opens_the_page_in_a_browser(tmp_path):
    """Without --no-browser the command opens the page's address (webbrowser stubbed)."""
    from studio_server import free_port
    port = free_port()
    code = ("import webbrowser, sys\n"
            "webbrowser.open = lambda url: print('OPENED', url, flush=True)\n"
            "from ournn.cli import main\n"
            f"sys.exit(main(['studio', '--port', '{port}', '--workdir', {str(tmp_path)!r}]))\n")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        lines = []
        deadline = time.time() + 60
        while time.time() < deadline:
            line = proc.stdout.readline()
            lines.append(line)
            if line.startswith("OPENED"):
                break
        assert f"OPENED http://127.0.0.1:{port}/" in "".join(lines), lines
        assert any("ournn studio at" in line for line in lines)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(30)
        proc.stdout.close()


def test_the_studio_client_example(server, capsys):
    import runpy
    example = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "studio_client.py")
    saved = runpy.run_path(example)["main"](["--url", server.url, "--epochs", "20"])
    out = capsys.readouterr().out
    assert "354 parameters" in out and "training done" in out
    assert "epoch  20" in out and os.path.exists(saved["path"])
    assert "point [-1.0, 0.5]: class 0" in out           # upper arc: class 0


def test_a_saved_model_downloads_as_safetensors_and_onnx(server, client, tmp_path):
    """The save's other formats: the weights as safetensors (read back by ournn and, with the
    package, by safetensors) and the graph as ONNX (run by onnxruntime when installed), from
    the same saved file; another session gets 404 and an unknown format 400."""
    status, answer = client.post("/api/train", {"dataset": "moons", "layers": TOY, "epochs": 1})
    assert status == 202, answer
    job = client.wait_job()
    assert job["state"] == "done", job
    status, saved = client.post("/api/model/save", {"name": "moons-net"})
    assert status == 200
    status, blob = client.get(saved["download"] + "&format=safetensors", raw=True)
    assert status == 200
    path = tmp_path / "m.safetensors"
    path.write_bytes(blob)
    state = ournn.load(str(path))
    from ournn.train.checkpoints import load_model
    model, _ = load_model(saved["path"])
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(state[k].numpy(), v.numpy())
    assert_error(*client.get(saved["download"] + "&format=pickle"), 400, "format")
    assert_error(*Client(server.url).get(saved["download"] + "&format=onnx"), 404)
    status, onnx_blob = client.get(saved["download"] + "&format=onnx", raw=True)
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    assert status == 200
    session = ort.InferenceSession(onnx_blob, providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).standard_normal((5, 2)).astype(np.float32)
    (ours,) = [model.eval()(x).numpy()]
    theirs = session.run(None, {session.get_inputs()[0].name: x})[0]
    np.testing.assert_allclose(theirs, ours, atol=1e-5)


def test_every_dataset_says_its_task_and_output_size_before_it_is_loaded(client):
    infos = {d["name"]: d for d in client.get("/api/options")[1]["datasets"]}
    for name, info in infos.items():
        assert info["task"] in ("classification", "regression", "text"), info
        if info["task"] != "text":              # the corpus's characters: once it is read
            assert info["outputs"] == (1 if info["task"] == "regression"
                                       else len(info["classes"]))
    status, r = client.post("/api/model/check", {"dataset": "fashion-mnist", "layers": MLP})
    assert status == 200 and r["ok"], r
