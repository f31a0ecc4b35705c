"""Helpers for the studio tests: a real studio server (uvicorn in a thread, or `ournn studio` in
a subprocess) and a small HTTP client with its own cookie jar (one client = one browser)."""
import http.cookiejar
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ThreadServer:
    """The studio app served by uvicorn in a background thread of the test process."""

    def __init__(self, workdir):
        import uvicorn

        from ournn.studio import create_app
        self.app = create_app(str(workdir))
        self.port = free_port()
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="error",
                                timeout_graceful_shutdown=1)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.time() + 30
        while not self.server.started:
            if time.time() > deadline:
                raise RuntimeError("the studio server did not start")
            time.sleep(0.05)
        self.url = f"http://127.0.0.1:{self.port}"

    def close(self):
        self.app.state.studio.shutdown()
        self.server.should_exit = True
        self.thread.join(30)


def start_cli_server(workdir, port=None, env=None):
    """`ournn studio --no-browser` in a subprocess; returns (process, base url)."""
    port = port or free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "ournn.cli", "studio", "--no-browser", "--port", str(port),
         "--workdir", str(workdir)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, **(env or {})})
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while True:
        try:
            urllib.request.urlopen(url + "/api/options", timeout=2).read()
            return proc, url
        except (urllib.error.URLError, ConnectionError):
            if proc.poll() is not None or time.time() > deadline:
                proc.kill()
                raise RuntimeError("ournn studio did not start:\n" + proc.stdout.read())
            time.sleep(0.2)


class Client:
    """One browser: its own cookies, so its own studio session."""

    def __init__(self, base):
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def request(self, method, path, body=None, content_type=None, raw=False, timeout=60,
                headers=None):
        """(status, parsed JSON or bytes when ``raw``); ``headers`` are added (a ``Host``
        replaces the real one)."""
        data = None
        headers = dict(headers or {})
        if body is not None:
            if isinstance(body, (bytes, str)):
                data = body.encode() if isinstance(body, str) else body
                headers["Content-Type"] = content_type or "application/octet-stream"
            else:
                data = json.dumps(body).encode()
                headers["Content-Type"] = content_type or "application/json"
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers=headers)
        try:
            with self.opener.open(req, timeout=timeout) as r:
                status, content, ctype = r.status, r.read(), r.headers.get("Content-Type", "")
        except urllib.error.HTTPError as e:
            status, content, ctype = e.code, e.read(), e.headers.get("Content-Type", "")
        if raw or "json" not in ctype:
            return status, content
        return status, json.loads(content)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body if body is not None else {}, **kw)

    def wait_job(self, states=("done", "stopped", "failed"), timeout=120):
        deadline = time.time() + timeout
        while time.time() < deadline:
            _, data = self.get("/api/job")
            if data["job"] and data["job"]["state"] in states:
                return data["job"]
            time.sleep(0.1)
        raise AssertionError(f"the job did not reach {states} in {timeout} s: {data}")

    def events(self, until="done", timeout=120):
        """Read the event stream until an event named ``until``; returns [(event, data)]."""
        req = urllib.request.Request(self.base + "/api/events")
        out = []
        with self.opener.open(req, timeout=timeout) as r:
            event = None
            for line in r:
                line = line.decode().rstrip("\n")
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: "):
                    out.append((event, json.loads(line[6:])))
                    if event == until:
                        return out
        return out


# a small network for the 2-D toy sets, as the API takes it
TOY = [{"type": "Linear", "out_features": 16}, {"type": "Tanh"},
       {"type": "Linear", "out_features": 2}]


def assert_error(status, body, code, *words):
    """A refusal with HTTP ``code`` whose body is ``{"error", "field"}`` and names ``words``
    (in the message, or as the field)."""
    assert status == code, body
    assert set(body) == {"error", "field"}, body
    for w in words:
        assert w in body["error"] or w == body["field"], (w, body)
