"""Watching a network learn (issue 19): play until paused, one step at a time, settings that
change while paused and apply on resume, L1/L2 regularisation, through the HTTP API."""
import time

import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

from studio_server import Client, ThreadServer  # noqa: E402

TOY = [{"type": "Linear", "out_features": 16}, {"type": "Tanh"},
       {"type": "Linear", "out_features": 2}]
MOONS = {"dataset": "moons", "layers": TOY, "batch_size": 16, "lr": 0.01}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    s = ThreadServer(tmp_path_factory.mktemp("studio-play"))
    yield s
    s.close()


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
