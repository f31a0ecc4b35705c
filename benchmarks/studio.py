#!/usr/bin/env python
"""What the studio costs on top of ``ournn.train.fit``, and how fast it answers while training.

    python benchmarks/studio.py                  # JSON on stdout
    python benchmarks/studio.py --reps 5 --train-size 20000

For the same network, data, batch size and seed, one epoch is timed (the trainer's own
``time`` log: the training steps and the validation pass) three ways, alternating so that
machine noise falls on all alike:

* ``fit``: ``ournn.train.fit`` called directly, no callbacks;
* ``studio``: the same setup trained through the studio's HTTP API (server in this process,
  a background job with StudioCallback and ModelCheckpoint, one tab reading the event stream,
  the job's status read twice a second), the epoch time read from the job;
* ``page``: the same again with the studio's page open in a real browser (headless Chromium
  driven by Playwright, the page following the job live: charts, layer statistics, the
  confusion matrix), which is what a person watching costs the training (the issue's "half
  speed on 2 cores"); skipped with ``--no-browser`` or without Playwright and Chromium;
* then, while a studio job trains, the round-trip time of ``POST /api/predict`` for a drawn
  digit (served between two training steps) and of ``GET /api/job``.

We report medians over repetitions, the ratio studio / fit (1.0 = no overhead) and the page's
cost: page / studio - 1 (the training time an open page adds), with the load average, since
the machine may be shared.
"""
import argparse
import http.cookiejar
import json
import os
import socket
import statistics
import sys
import threading
import time
import urllib.request

import numpy as np

LAYERS = [{"type": "Flatten"}, {"type": "Linear", "out_features": 256}, {"type": "ReLU"},
          {"type": "Linear", "out_features": 10}]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Browser:
    def __init__(self, base):
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with self.opener.open(req, timeout=600) as r:
                return json.loads(r.read())
        except urllib.error.HTTPError as e:
            raise SystemExit(f"studio benchmark: {method} {path} answered {e.code}: "
                             f"{e.read().decode(errors='replace')[:300]}") from None

    def wait(self):
        while True:
            job = self.call("GET", "/api/job")["job"]
            if job["state"] in ("done", "stopped", "failed"):
                return job
            time.sleep(0.5)

    def listen(self):
        """Read the event stream for ever, as an open tab does (in a daemon thread)."""
        def read():
            with self.opener.open(self.base + "/api/events", timeout=3600) as r:
                for _ in r:
                    pass
        threading.Thread(target=read, daemon=True).start()


class Page:
    """The studio's page in headless Chromium, in the same session as ``browser`` (its
    cookie), so that it shows and follows the jobs the benchmark starts."""

    def __init__(self, url, jar):
        from playwright.sync_api import sync_playwright
        chromium = os.environ.get("OURNN_CHROMIUM", "/usr/bin/chromium")
        self._pw = sync_playwright().start()
        self._browser = self._pw.chromium.launch(
            executable_path=chromium, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--no-first-run"])
        self._context = self._browser.new_context(viewport={"width": 1400, "height": 900})
        self.page = self._context.new_page()
        self.page.goto(url)
        self.page.wait_for_function("document.querySelector('#conn').textContent === 'live'")
        for c in self._context.cookies():              # the page's session is ours
            jar.set_cookie(http.cookiejar.Cookie(
                0, c["name"], c["value"], None, False, "127.0.0.1", False, False, "/", True,
                False, None, False, None, None, {}))

    def close(self):
        self._browser.close()
        self._pw.stop()


def descendants_cpu_seconds():
    """CPU seconds (user + system) used so far by this process's descendants that still run
    (the browser: Playwright's driver and Chromium's processes), read from /proc; None where
    there is no /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    parents, cpu = {}, {}
    try:
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open(f"/proc/{pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parents[int(pid)] = int(fields[1])
            cpu[int(pid)] = (int(fields[11]) + int(fields[12])) / tick
    except OSError:
        return None
    me, total = os.getpid(), 0.0
    for pid in cpu:
        p = parents.get(pid)
        while p and p != me:
            p = parents.get(p)
        if p == me and pid != me:
            total += cpu[pid]
    return total


def browser_available():
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return False
    return os.path.exists(os.environ.get("OURNN_CHROMIUM", "/usr/bin/chromium"))


def time_fit(setup, x, y, tx, ty):
    import ournn
    from ournn.studio.spec import build, check_layers
    from ournn.train import fit
    ournn.manual_seed(setup["seed"])
    model, _, _ = build(check_layers(setup["layers"]), [1, 28, 28], 10)
    history = fit(model, (x, y), epochs=1, optimizer=setup["optimizer"], lr=setup["lr"],
                        batch_size=setup["batch_size"], validation_data=(tx, ty), verbose=0,
                        seed=setup["seed"])
    return history.history["time"][0]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--train-size", type=int, default=20000)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--no-browser", action="store_true",
                        help="skip the runs with the page open in Chromium")
    args = parser.parse_args(argv)

    import tempfile

    import uvicorn

    from ournn.studio import create_app
    workdir = tempfile.mkdtemp(prefix="ournn-studio-bench-")
    app = create_app(workdir)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="error"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    browser = Browser(f"http://127.0.0.1:{port}")
    browser.call("GET", "/api/options")          # the session cookie
    browser.listen()

    setup = {"dataset": "mnist", "layers": LAYERS, "epochs": 1, "batch_size": args.batch_size,
             "train_size": args.train_size, "optimizer": "adam", "lr": 1e-3, "seed": 0}
    ds = app.state.studio.registry.get("mnist")
    x, y = ds.x[:args.train_size], ds.y[:args.train_size]
    tx, ty = ds.tx, ds.ty

    fit_times, studio_times, page_times, page_cpu = [], [], [], []
    time_fit(setup, x[:2000], y[:2000], tx[:500], ty[:500])          # warm-up
    with_page = not args.no_browser and browser_available()
    watcher = Browser(browser.base)              # another session, for the page's runs
    page = Page(watcher.base + "/", watcher.jar) if with_page else None
    try:
        for _ in range(args.reps):
            fit_times.append(time_fit(setup, x, y, tx, ty))
            browser.call("POST", "/api/train", setup)
            studio_times.append(browser.wait()["history"]["time"][0])
            if page is not None:                 # the same, watched by the open page
                cpu0, t0 = descendants_cpu_seconds(), time.perf_counter()
                watcher.call("POST", "/api/train", setup)
                job = watcher.wait()
                cpu1, t1 = descendants_cpu_seconds(), time.perf_counter()
                page_times.append(job["history"]["time"][0])
                if cpu0 is not None:              # cores the browser kept busy meanwhile
                    page_cpu.append((cpu1 - cpu0) / (t1 - t0))
                page.page.wait_for_function("window.ournnStudio.job && "
                                            "window.ournnStudio.job.state === 'done'",
                                            timeout=600_000)
    finally:
        if page is not None:
            page.close()

    # answers while training: a longer job, predictions and status reads during it
    drawing = np.zeros((56, 56))
    drawing[8:48, 26:31] = 1
    browser.call("POST", "/api/train", {**setup, "epochs": 500})   # still running at the stop
    time.sleep(1.0)
    predict_ms, job_ms = [], []
    for _ in range(20):
        t = time.perf_counter()
        browser.call("POST", "/api/predict", {"pixels": drawing.tolist()})
        predict_ms.append(1000 * (time.perf_counter() - t))
        t = time.perf_counter()
        browser.call("GET", "/api/job")
        job_ms.append(1000 * (time.perf_counter() - t))
        time.sleep(0.05)
    step_ms = None
    job = browser.call("GET", "/api/job")["job"]
    if job.get("samples_per_sec"):
        step_ms = 1000 * args.batch_size / job["samples_per_sec"]
    browser.call("POST", "/api/train/stop", {})
    browser.wait()
    server.should_exit = True

    fit_s, studio_s = statistics.median(fit_times), statistics.median(studio_times)
    result = {
        "benchmark": "studio_overhead", "network": "784-256-10 MLP", "train_size": args.train_size,
        "batch_size": args.batch_size, "reps": args.reps,
        "fit_epoch_s": {"median": fit_s, "all": fit_times},
        "studio_epoch_s": {"median": studio_s, "all": studio_times},
        "ratio_studio_over_fit": studio_s / fit_s,
        "page_epoch_s": ({"median": statistics.median(page_times), "all": page_times}
                         if page_times else None),
        "page_cost": (statistics.median(page_times) / studio_s - 1) if page_times else None,
        "browser_cores_while_training": ({"median": statistics.median(page_cpu),
                                          "all": page_cpu} if page_cpu else None),
        "load_average": list(os.getloadavg()),
        "predict_while_training_ms": {"median": statistics.median(predict_ms),
                                      "max": max(predict_ms)},
        "job_status_while_training_ms": {"median": statistics.median(job_ms),
                                         "max": max(job_ms)},
        "training_step_ms": step_ms,
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
