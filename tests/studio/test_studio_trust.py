"""What the studio saves, continues and reports is what the page shows (issue 19, "Trust"):
a save names the run, epoch and step it holds and refuses a network the page does not show; a
loaded training checkpoint continues with its weights and optimizer state; the speed figure
counts training steps only; a corrupt checkpoint is refused without advice about pickles."""
import random
import time

import numpy as np
import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

from studio_server import TOY, Client  # noqa: E402

OTHER = [{"type": "Linear", "out_features": 8}, {"type": "ReLU"},
         {"type": "Linear", "out_features": 2}]
MOONS = {"dataset": "moons", "layers": TOY, "epochs": 3, "batch_size": 32, "lr": 0.01}


def trained(server, **setup):
    c = Client(server.url)
    status, r = c.post("/api/train", {**MOONS, **setup})
    assert status == 202, r
    c.wait_job()
    return c


def test_a_save_names_the_run_and_epoch_it_holds(server):
    c = trained(server)
    status, r = c.post("/api/model/save", {"name": "moons-a",
                                           "setup": {"dataset": "moons", "layers": TOY}})
    assert status == 200, r
    assert r["source"]["kind"] == "run" and r["source"]["run"] == 1
    assert r["source"]["epoch"] == 3 and r["source"]["epochs"] == 3
    assert r["source"]["text"] == "run 1 after epoch 3 of 3 (finished)"
    # a second run in the same session is run 2
    c.post("/api/train", {**MOONS, "epochs": 1})
    c.wait_job()
    status, r = c.post("/api/model/save", {"name": "moons-b"})
    assert r["source"]["run"] == 2 and r["source"]["text"].startswith("run 2 after epoch 1")


def test_save_refuses_a_network_the_page_shows_but_nobody_trained(server):
    c = trained(server)
    status, r = c.post("/api/model/save", {"name": "wrong",
                                           "setup": {"dataset": "moons", "layers": OTHER}})
    assert status == 409 and r["field"] == "setup", r
    assert "has not been trained" in r["error"] and "run 1" in r["error"], r
    # another dataset on the page, same layers: refused too
    status, r = c.post("/api/model/save", {"name": "wrong",
                                           "setup": {"dataset": "circles", "layers": TOY}})
    assert status == 409 and "Two moons" in r["error"], r
    status, r = c.post("/api/model/save", {"name": "wrong", "setup": "moons"})
    assert status == 400 and r["field"] == "setup"
    status, r = c.post("/api/model/save", {"name": "wrong", "setup": {"dataset": "moons",
                                                                       "layers": "x"}})
    assert status == 400 and r["field"] == "layers"


def test_a_save_during_a_run_says_where_the_run_stands(server):
    c = Client(server.url)
    assert c.post("/api/train", {**MOONS, "epochs": 400, "batch_size": 4})[0] == 202
    c.wait_job(("running",))
    time.sleep(0.3)
    status, r = c.post("/api/model/save", {"name": "live"})
    assert status == 200 and "still training" in r["source"]["text"], r
    assert r["source"]["state"] == "running" and r["source"]["step"] >= 0   # 0: an epoch's end
    assert c.post("/api/train/pause")[0] == 200
    c.wait_job(("paused",))
    job = c.get("/api/job")[1]["job"]
    while True:                      # the step in progress when the pause came ends
        time.sleep(0.3)
        settled, job = job, c.get("/api/job")[1]["job"]
        if settled["global_step"] == job["global_step"]:
            break
    status, r = c.post("/api/model/save", {"name": "live"})
    assert r["source"]["text"] == (f"run 1, paused in epoch {job['epoch'] + 1} of 400 at step "
                                   f"{job['step']} of {job['steps_per_epoch']}"), r
    c.post("/api/train/stop")
    c.wait_job()


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning",
                            "ignore:invalid value encountered:RuntimeWarning")
def test_a_failed_run_is_not_saved_or_continued(server):     # the run diverges on purpose
    c = Client(server.url)
    c.post("/api/train", {**MOONS, "lr": 10.0, "optimizer": "sgd", "epochs": 50,
                          "layers": [{"type": "Linear", "out_features": 256}, {"type": "ReLU"},
                                     {"type": "Linear", "out_features": 256}, {"type": "ReLU"},
                                     {"type": "Linear", "out_features": 2}]})
    job = c.wait_job()
    if job["state"] != "failed":
        pytest.skip("this run did not diverge")
    status, r = c.post("/api/model/save", {"name": "nan"})
    assert status == 409 and "failed" in r["error"]


def _val_accuracy(client):
    return client.get("/api/job")[1]["job"]["history"]["val_accuracy"]


def test_a_loaded_checkpoint_continues_with_its_weights_and_optimizer(server, tmp_path):
    trainer = trained(server, epochs=8, layers=[{"type": "Linear", "out_features": 32},
                                                {"type": "Tanh"},
                                                {"type": "Linear", "out_features": 2}])
    job = trainer.get("/api/job")[1]["job"]
    before = job["history"]["val_accuracy"][-1]
    ckpt = open(job["checkpoint"], "rb").read()          # last.ckpt: weights and optimizer
    c = Client(server.url)
    status, r = c.post("/api/model/load?name=last.ckpt", ckpt)
    assert status == 200 and r["file"] == "last.ckpt", r
    assert r["optimizer_state"] is True and r["epochs"] == 8
    setup = {**r["setup"], "epochs": 1}
    status, r = c.post("/api/train", {**setup, "continue": True})
    assert status == 202, r
    source = r["job"]["source"]
    assert source["kind"] == "file" and source["file"] == "last.ckpt", source
    assert source["optimizer"] is True and source["epochs_before"] == 8
    c.wait_job()
    job = c.get("/api/job")[1]["job"]
    assert job["optimizer_note"] is None
    continued = job["history"]["val_accuracy"][-1]
    assert continued > before - 0.05, (before, continued)     # it did not start from scratch
    # the continued run can be continued again (from its own optimizer state)
    status, r = c.post("/api/train", {**setup, "continue": True})
    assert r["job"]["source"] == {**r["job"]["source"], "kind": "run", "run": 1,
                                  "epochs_before": 9, "optimizer": True}
    c.wait_job()
    # start over: new weights (the same as a fresh run of this setup with its seed)
    fresh = Client(server.url)
    fresh.post("/api/train", setup)
    fresh.wait_job()
    c.post("/api/train", setup)
    c.wait_job()
    assert _val_accuracy(c) == _val_accuracy(fresh)


def test_continue_is_refused_for_another_network_and_notes_another_optimizer(server):
    c = Client(server.url)
    status, r = c.post("/api/train", {**MOONS, "continue": True})
    assert status == 409 and r["field"] == "continue" and "no model" in r["error"]
    c.post("/api/train", MOONS)
    c.wait_job()
    status, r = c.post("/api/train", {**MOONS, "layers": OTHER, "continue": True})
    assert status == 409 and "start over" in r["error"] and "run 1" in r["error"], r
    status, r = c.post("/api/train", {**MOONS, "continue": "yes"})
    assert status == 400 and r["field"] == "continue"
    # Adam's moments do not fit SGD: it continues from the weights, and says so
    status, r = c.post("/api/train", {**MOONS, "optimizer": "sgd", "epochs": 1,
                                      "continue": True})
    assert status == 202
    job = c.wait_job()
    assert job["state"] == "done" and "starts afresh" in job["optimizer_note"], job


class FakeTrainer:
    def __init__(self, loader_len, batch):
        self.train_loader = [None] * loader_len
        self.batch = batch
        self.epoch = self.step = self.global_step = 0
        self.samples_this_session = 0
        self.stop_training = False

    def running_logs(self):
        return {"accuracy": 0.5}

    def current_lr(self):
        return 0.01


def test_the_speed_counts_training_steps_not_validation(monkeypatch, tmp_path):
    """A run whose validation takes far longer than its steps: the end figure is samples
    over training seconds (it was samples over training plus validation)."""
    from ournn.studio import jobs
    from ournn.studio.jobs import Channel, Job, StudioCallback

    clock = [100.0]
    monkeypatch.setattr(jobs.time, "perf_counter", lambda: clock[0])

    class Data:
        kind = "table"
    monkeypatch.setattr(StudioCallback, "_confusion", lambda self, trainer: None)
    job = Job({"epochs": 2}, Data(), [], str(tmp_path), Channel())
    job.checkpoint_path = str(tmp_path / "last.ckpt")
    cb = StudioCallback(job)
    trainer = FakeTrainer(10, 50)
    cb.on_train_begin(trainer)
    for epoch in range(2):
        cb.on_epoch_begin(trainer)
        trainer.samples_this_session = 0
        for step in range(10):                # 10 steps of 50 samples, 0.05 s each
            clock[0] += 0.05
            trainer.step, trainer.global_step = step + 1, trainer.global_step + 1
            trainer.samples_this_session += 50
            cb.on_batch_end(trainer, 1.0)
        clock[0] += 3.0                       # validation: 3 s
        trainer.epoch, trainer.step = epoch + 1, 0
        cb.on_epoch_end(trainer, {"loss": 1.0})
        assert job.samples_per_sec == pytest.approx(1000.0), job.samples_per_sec
    cb.on_train_end(trainer)
    assert job.samples_per_sec == pytest.approx(1000.0)       # 1000 samples in 1.0 s


def test_a_pause_is_not_counted_as_training_time(monkeypatch, tmp_path):
    from ournn.studio import jobs
    from ournn.studio.jobs import Channel, Job, StudioCallback
    clock = [0.0]
    monkeypatch.setattr(jobs.time, "perf_counter", lambda: clock[0])

    class Data:
        kind = "table"
    monkeypatch.setattr(StudioCallback, "_confusion", lambda self, trainer: None)
    job = Job({"epochs": 1}, Data(), [], str(tmp_path), Channel())
    job.checkpoint_path = str(tmp_path / "last.ckpt")
    cb = StudioCallback(job)
    trainer = FakeTrainer(4, 10)
    cb.on_train_begin(trainer)
    cb.on_epoch_begin(trainer)
    sleeps = []

    def sleep(seconds):                       # the paused loop: 5 s go by, then resume
        clock[0] += 5.0
        sleeps.append(seconds)
        job._pause.clear()
    monkeypatch.setattr(jobs.time, "sleep", sleep)
    for step in range(4):
        clock[0] += 0.1
        trainer.step = trainer.global_step = step + 1
        trainer.samples_this_session += 10
        if step == 1:
            job._pause.set()
        cb.on_batch_end(trainer, 1.0)
    trainer.epoch = 1
    cb.on_epoch_end(trainer, {})
    cb.on_train_end(trainer)
    assert sleeps and job.samples_per_sec == pytest.approx(100.0)     # 40 samples in 0.4 s


def test_corrupt_checkpoints_are_refused_without_pickle_advice(server, tmp_path):
    import ournn
    from ournn import nn
    model = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 2))
    path = tmp_path / "m.ckpt"
    ournn.save({"model": model, "studio_setup": {"dataset": "moons"}}, str(path))
    raw = path.read_bytes()
    bodies = [raw[:len(raw) // 2], raw[:-30], b"\x80\x04\x95" + raw[3:200],
              b"\x93NUMPY\x01\x00v\x00{'descr': '|O', 'fortran_order': False, 'shape': (1,), }",
              b"PK\x03\x04" + bytes(200), raw.replace(b"\x93NUMPY", b"\x93NUMPZ")]
    rng = random.Random(0)
    for _ in range(60):
        b = bytearray(raw)
        for _ in range(rng.randint(1, 6)):
            b[rng.randrange(len(b))] = rng.randrange(256)
        bodies.append(bytes(b))
    c = Client(server.url)
    refused = 0
    for body in bodies:
        status, r = c.post("/api/model/load?name=bad.ckpt", body)
        assert status in (200, 400, 413), (status, r)
        if status != 200:
            refused += 1
            assert "pickle" not in r["error"].lower(), r
            assert "Traceback" not in r["error"] and len(r["error"]) < 600
    assert refused >= 6
