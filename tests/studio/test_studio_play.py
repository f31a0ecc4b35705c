"""Watching a network learn (issue 19): play until paused, one step at a time, settings that
change while paused and apply on resume, L1/L2 regularisation, through the HTTP API."""
import time

import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

from studio_server import TOY, Client  # noqa: E402

MOONS = {"dataset": "moons", "layers": TOY, "batch_size": 16, "lr": 0.01}


def test_step_play_pause_and_settings_that_apply_on_resume(server):
    c = Client(server.url)
    status, r = c.post("/api/train", {**MOONS, "until_paused": True, "paused": True})
    assert status == 202 and r["job"]["state"] == "paused" and r["job"]["epochs"] is None
    for n in (1, 2, 3):                       # Step: exactly one step each
        status, r = c.post("/api/train/step")
        assert status == 200 and r["job"]["global_step"] == n and r["job"]["state"] == "paused"
    # changed while paused: nothing moves until resume, then the new values train
    status, r = c.post("/api/train/settings", {"lr": 0.05, "l2": 0.001})
    assert status == 200 and r["job"]["setup"]["lr"] == 0.05 and r["job"]["global_step"] == 3
    time.sleep(0.3)
    assert c.get("/api/job")[1]["job"]["global_step"] == 3
    server_job = server.app.state.studio.sessions[next(
        k.value for k in c.jar if k.name == "ournn_session")].job
    assert c.post("/api/train/resume")[0] == 200
    deadline = time.time() + 60
    while c.get("/api/job")[1]["job"]["epoch"] < 3 and time.time() < deadline:
        time.sleep(0.1)
    assert server_job.optimizer.param_groups[0]["lr"] == 0.05
    job = c.get("/api/job")[1]["job"]
    assert job["state"] == "running" and job["epoch"] >= 3      # past the 3 of "epochs"
    assert job["history"]["lr"][-1] == 0.05
    # not a step while it runs; bad settings are 400 naming them
    assert c.post("/api/train/step")[0] == 409
    status, r = c.post("/api/train/settings", {"batch_size": 3})
    assert status == 400 and r["field"] == "batch_size" and "cannot change" in r["error"]
    status, r = c.post("/api/train/settings", {"l1": -1})
    assert status == 400 and r["field"] == "l1"
    assert c.post("/api/train/pause")[0] == 200
    assert c.post("/api/train/stop")[0] == 200
    assert c.wait_job()["state"] == "stopped"
    assert c.post("/api/train/settings", {"lr": 0.1})[0] == 409


def test_until_paused_takes_no_schedule(server):
    c = Client(server.url)
    status, r = c.post("/api/train", {**MOONS, "until_paused": True, "schedule": "cosine"})
    assert status == 400 and r["field"] == "schedule"
    status, r = c.post("/api/train", {**MOONS, "until_paused": "yes"})
    assert status == 400 and r["field"] == "until_paused"


def _weight_rms(c, setup):
    c.post("/api/train", setup)
    job = c.wait_job()
    assert job["state"] == "done", job
    return job["layer_stats"][0]["weight_rms"], job["history"]


def test_l1_and_l2_shrink_the_weights_and_leave_validation_loss_plain(server):
    base = {**MOONS, "epochs": 15}
    plain, h0 = _weight_rms(Client(server.url), base)
    l2, h2 = _weight_rms(Client(server.url), {**base, "l2": 0.05})
    l1, h1 = _weight_rms(Client(server.url), {**base, "l1": 0.05})
    assert l2 < 0.7 * plain and l1 < 0.7 * plain, (plain, l2, l1)
    # the penalty is in the training loss only: validation losses are comparable
    assert h2["loss"][-1] > h2["val_loss"][-1] * 0.9
    status, r = Client(server.url).post("/api/train", {**base, "l2": 2})
    assert status == 400 and r["field"] == "l2"


def test_toy_data_controls_features_and_new_noise_during_a_run(server, tmp_path):
    c = Client(server.url)
    opts = c.get("/api/options")[1]
    assert "gauss" in [d["name"] for d in opts["datasets"]] and opts["toys"]["circles"]
    assert opts["features"] == ["x1", "x2", "x1^2", "x2^2", "x1*x2", "sin x1", "sin x2"]
    data = {"noise": 0.05, "train_share": 0.5, "seed": 7, "features": ["x1^2", "x2^2"]}
    status, r = c.post("/api/model/check", {"dataset": "circles", "data": data,
                                            "layers": [{"type": "Linear", "out_features": 2}]})
    assert r["ok"] and r["input_shape"] == [2]
    status, r = c.post("/api/model/check", {"dataset": "circles",
                                            "data": {**data, "features": ["x1", "x2", "x1*x2"]},
                                            "layers": [{"type": "Linear", "out_features": 2}]})
    assert r["input_shape"] == [3]
    # the samples are the raw points (what the page draws), test points included
    import json
    import urllib.parse
    query = urllib.parse.quote(json.dumps(data))
    status, s = c.get(f"/api/datasets/circles/samples?data={query}")
    assert status == 200 and len(s["x"]) == 750 and len(s["test_x"]) == 750 and len(s["x"][0]) == 2
    # a linear model separates the circles on x1^2 and x2^2
    setup = {"dataset": "circles", "data": data, "epochs": 30, "batch_size": 16, "lr": 0.05,
             "layers": [{"type": "Linear", "out_features": 2}]}
    status, r = c.post("/api/train", setup)
    assert status == 202, r
    job = c.wait_job()
    assert job["history"]["val_accuracy"][-1] > 0.95, job["history"]["val_accuracy"]
    assert job["setup"]["data"] == data and job["steps_per_epoch"] == 47      # 750 points
    assert len(job["units"]["layers"][0]["units"]) == 2          # the two input features
    # predictions take the raw point; the features are the server's business
    inside = c.post("/api/predict", {"features": [0.0, 0.1]})[1]
    outside = c.post("/api/predict", {"features": [1.0, 0.0]})[1]
    assert inside["prediction"] == 1 and outside["prediction"] == 0
    # the exported script makes the same points and features
    status, script = c.post("/api/export", setup, raw=True)
    path = tmp_path / "circles.py"
    path.write_bytes(script)
    assert b"x[:, 0] ** 2" in script and b"seed=7" in script and b"noise=0.05" in script
    # bad controls are 400s naming the field
    for bad, field in (({"noise": -1}, "data.noise"), ({"train_share": 1}, "data.train_share"),
                       ({"features": ["x3"]}, "data.features"), ({"features": []},
                                                                   "data.features"),
                       ({"colour": 1}, "data.colour")):
        status, r = c.post("/api/train", {**setup, "data": bad})
        assert status == 400 and r["field"] == field, (bad, r)
    status, r = c.post("/api/train", {**setup, "dataset": "mnist"})
    assert status == 400 and r["field"] == "data"
    # during a run: more noise, a new draw; not a new split
    c.post("/api/train", {**setup, "until_paused": True, "paused": True})
    status, r = c.post("/api/train/settings", {"data": {**data, "noise": 0.3, "seed": 8}})
    assert status == 200 and r["job"]["setup"]["data"]["noise"] == 0.3
    c.post("/api/train/step")
    session = server.app.state.studio.sessions[next(
        k.value for k in c.jar if k.name == "ournn_session")]
    assert session.job.dataset.raw_x.std() > 0.6          # the noisy points are trained on
    status, r = c.post("/api/train/settings", {"data": {**data, "train_share": 0.6}})
    assert status == 409 and r["field"] == "data"
    c.post("/api/train/stop")
    c.wait_job()


def test_the_sessions_runs_are_listed_with_settings_figures_and_curves(server):
    c = Client(server.url)
    assert c.get("/api/runs")[1] == {"runs": []}
    c.post("/api/train", {**MOONS, "epochs": 2})
    c.wait_job()
    c.post("/api/train", {**MOONS, "epochs": 3, "lr": 0.003, "l2": 0.01})
    c.wait_job()
    runs = c.get("/api/runs")[1]["runs"]
    assert [r["run"] for r in runs] == [1, 2]
    assert runs[1]["settings"]["lr"] == 0.003 and runs[1]["settings"]["l2"] == 0.01
    assert runs[0]["last"]["epoch"] == 2 and runs[1]["history"]["epoch"] == [1, 2, 3]
    assert 0 < runs[1]["last"]["val_accuracy"] <= 1 and runs[1]["state"] == "done"
    assert Client(server.url).get("/api/runs")[1] == {"runs": []}      # sessions apart
    job = c.get("/api/job")[1]["job"]
    assert len(job["steps"]["lr"]) == len(job["steps"]["loss"]) and job["steps"]["lr"][0] == 0.003


@pytest.mark.parametrize("setup", [
    {"dataset": "reg-gauss", "data": {"noise": 0.05, "features": ["x1", "x2", "x1*x2"]},
     "layers": [{"type": "Linear", "out_features": 8}, {"type": "Tanh"},
                {"type": "Linear", "out_features": 1}], "l2": 0.001},
    {"dataset": "moons", "layers": TOY, "l1": 0.001, "l2": 0.002}])
def test_regression_and_regularised_runs_export_scripts_that_train_exactly_alike(
        server, tmp_path, setup):
    import subprocess
    import sys
    setup = {**setup, "epochs": 3, "batch_size": 32, "lr": 0.01}
    c = Client(server.url)
    assert c.post("/api/train", setup)[0] == 202
    job = c.wait_job()
    assert job["state"] == "done", job
    status, script = c.post("/api/export", setup, raw=True)
    (tmp_path / "run.py").write_bytes(script)
    out = subprocess.run([sys.executable, "run.py"], capture_output=True, text=True,
                         cwd=tmp_path, timeout=300)
    assert out.returncode == 0, out.stderr
    result = eval(out.stdout.strip().splitlines()[-1], {})
    assert abs(result["loss"] - job["history"]["val_loss"][-1]) < 1e-6, (result, job["history"])


def test_2d_regression_trains_with_mse_and_draws_a_surface(server):
    c = Client(server.url)
    layers = [{"type": "Linear", "out_features": 16}, {"type": "Tanh"},
              {"type": "Linear", "out_features": 16}, {"type": "Tanh"},
              {"type": "Linear", "out_features": 1}]
    info = next(d for d in c.get("/api/options")[1]["datasets"] if d["name"] == "reg-gauss")
    assert info["task"] == "regression" and info["outputs"] == 1
    status, r = c.post("/api/model/check", {"dataset": "reg-gauss",
                                            "layers": layers[:-1] + [TOY[-1]]})
    assert not r["ok"] and "value to predict" in r["error"]["message"]
    c.post("/api/train", {"dataset": "reg-gauss", "layers": layers, "epochs": 40,
                          "batch_size": 16, "lr": 0.01})
    job = c.wait_job()
    assert job["state"] == "done" and job["history"]["val_loss"][-1] < 0.02, job["history"]
    assert job["history"]["accuracy"][-1] is None and job["confusion"] is None
    b = job["boundary"]
    assert len(b["values"]) == b["n"] ** 2 and "pred" not in b
    assert len(job["units"]["layers"]) == 3
    up = c.post("/api/predict", {"features": [0.5, 0.5]})[1]
    down = c.post("/api/predict", {"features": [-0.5, 0.5]})[1]
    assert up["value"] > 0.7 and down["value"] < -0.7, (up, down)
    samples = c.get("/api/datasets/reg-gauss/samples")[1]
    assert samples["task"] == "regression" and isinstance(samples["y"][0], float)


def test_the_new_endpoints_answer_bad_input_with_4xx_never_500(server):
    import json
    import random
    import urllib.parse
    rng = random.Random(1)
    values = [None, True, -1, 0, 0.5, 1e308, float("nan"), "x", [], {}, [1, 2], {"a": 1},
              ["x1"], ["x1", "x1"], 2 ** 70, -0.0]
    keys = ["lr", "l1", "l2", "weight_decay", "data", "noise", "train_share", "seed",
            "features", "continue", "paused", "until_paused", "setup", "name"]
    c = Client(server.url)
    c.post("/api/train", {**MOONS, "until_paused": True, "paused": True})
    for _ in range(80):
        body = {rng.choice(keys): rng.choice(values) for _ in range(rng.randint(1, 3))}
        if rng.random() < 0.5:
            body["data"] = {rng.choice(keys): rng.choice(values)}
        text = json.dumps(body)                      # NaN as the JSON token NaN
        for path in ("/api/train/settings", "/api/train/step", "/api/model/save"):
            status, r = c.post(path, text, content_type="application/json")
            assert status < 500, (path, body, r)
        status, r = c.post("/api/train", json.dumps({**MOONS, "epochs": 1, "train_size": 64,
                                                     **body}),
                           content_type="application/json")
        assert status < 500, (body, r)
        if status == 202:
            c.post("/api/train/stop")
            c.wait_job()
        status, r = c.get("/api/datasets/moons/samples?data=" +
                          urllib.parse.quote(json.dumps(body.get("data", body))))
        assert status < 500, (body, r)
    c.post("/api/train/stop")


def test_step_goes_through_an_epochs_end(server):
    c = Client(server.url)
    c.post("/api/train", {**MOONS, "train_size": 32, "until_paused": True, "paused": True})
    for n in range(1, 6):                      # 2 steps an epoch: every other one ends one
        t0 = time.monotonic()
        status, r = c.post("/api/train/step")
        assert status == 200 and r["job"]["global_step"] == n, r
        assert time.monotonic() - t0 < 5
    time.sleep(0.3)
    job = c.get("/api/job")[1]["job"]
    assert job["global_step"] == 5 and job["epoch"] == 2 and job["state"] == "paused"
    c.post("/api/train/stop")
    c.wait_job()
