"""The studio against hostile and clumsy input, through real HTTP requests to a running server:
foreign hosts and cross-site requests, content types a cross-site form can send, sessions that
try to reach each other's work, request bursts, code injected into exported scripts, hanging
saves, absurd numbers, deep JSON, and checkpoints that lie about their size."""
import http.client
import io
import json
import os
import subprocess
import sys
import threading
import time
import zipfile

import numpy as np
import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

from studio_server import TOY, Client, ThreadServer, assert_error  # noqa: E402

CSV = "a,b,label\n" + "\n".join(f"{i % 7},{(i * 3) % 5},{'yes' if i % 2 else 'no'}"
                                for i in range(40)) + "\n"


def raw(server, method, path, headers, body=b""):
    """One request with exactly these headers (Host included): (status, headers, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        for key, value in headers:
            conn.putheader(key, value)
        if body or method == "POST":
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        r = conn.getresponse()
        return r.status, r.getheaders(), r.read()
    finally:
        conn.close()


def trained(server, epochs=1):
    """A new browser whose session has trained a small model on the moons."""
    c = Client(server.url)
    status, r = c.post("/api/train", {"dataset": "moons", "layers": TOY, "epochs": epochs})
    assert status == 202, r
    assert c.wait_job()["state"] == "done"
    return c


# ---------------------------------------------------------------- 1. hosts and origins
@pytest.mark.parametrize("host", ["evil.example:{port}", "evil.example", "127.0.0.1:1",
                                  "127.0.0.1", "localhost.:{port}", "127.0.0.2:{port}",
                                  "0.0.0.0:{port}", "[::2]:{port}", "127.0.0.1:{port}@evil",
                                  "", "localhost:{port}.evil.example", "127.1:{port}"])
def test_a_foreign_host_is_refused_before_any_handler(server, host):
    host = host.format(port=server.port)
    for method, path, body in (("GET", "/", b""), ("GET", "/api/options", b""),
                               ("POST", "/api/model/check", b"{}"),
                               ("GET", "/static/studio.js", b"")):
        status, headers, answer = raw(server, method, path, [
            ("Host", host), ("Content-Type", "application/json")], body)
        assert status == 400, (host, path, answer)
        assert "answers only for" in json.loads(answer)["error"]
        # no handler ran: no session was made for the request
        assert not any(k.lower() == "set-cookie" for k, _ in headers)


def test_the_own_host_names_are_answered(server):
    for host in ("127.0.0.1:{port}", "localhost:{port}", "[::1]:{port}", "LocalHost:{port}"):
        status, _, answer = raw(server, "GET", "/api/options",
                                [("Host", host.format(port=server.port))])
        assert status == 200, (host, answer)


def test_two_host_headers_are_refused(server):
    status, _, answer = raw(server, "GET", "/api/options", [
        ("Host", f"127.0.0.1:{server.port}"), ("Host", "evil.example")])
    assert status == 400


def test_the_host_given_to_the_server_is_answered(tmp_path):
    from ournn.studio.guard import Guard
    guard = Guard(None, hosts=["studio.lan", "::1", "10.0.0.5"], port=8765)
    scope = {"type": "http", "method": "GET", "path": "/", "server": ("0.0.0.0", 8765)}
    for host, ok in (("studio.lan:8765", True), ("[::1]:8765", True), ("10.0.0.5:8765", True),
                     ("studio.lan:8766", False), ("studio.lan", False),
                     ("other.lan:8765", False)):
        refusal = guard.check({**scope, "headers": [(b"host", host.encode())]})
        assert (refusal is None) == ok, (host, refusal)


@pytest.mark.parametrize("origin", ["http://evil.example", "null", "http://localhost:1",
                                    "https://127.0.0.1:{port}", "http://127.0.0.1:{port}.evil",
                                    "http://127.0.0.1", "file://", "http://evil.example:{port}"])
def test_a_cross_site_origin_is_refused(server, origin):
    origin = origin.format(port=server.port)
    c = Client(server.url)
    body = {"dataset": "moons", "layers": TOY}
    for path in ("/api/model/check", "/api/train", "/api/model/save", "/api/export"):
        status, r = c.post(path, body, headers={"Origin": origin})
        assert_error(status, r, 403, "another site", "origin")
    # reading the API from another site is refused too
    assert_error(*c.get("/api/options", headers={"Origin": origin}), 403, "origin")
    assert c.get("/api/job")[1]["job"] is None                   # nothing was started


def test_the_own_origin_is_answered(server):
    c = Client(server.url)
    for origin in (server.url, f"http://localhost:{server.port}"):
        status, r = c.post("/api/model/check", {"dataset": "moons", "layers": TOY},
                           headers={"Origin": origin, "Sec-Fetch-Site": "same-origin"})
        assert status == 200 and r["ok"], r


@pytest.mark.parametrize("site", ["cross-site", "same-site", "CROSS-SITE", "bogus"])
def test_sec_fetch_site_from_another_site_is_refused(server, site):
    c = Client(server.url)
    status, r = c.post("/api/train", {"dataset": "moons", "layers": TOY},
                       headers={"Sec-Fetch-Site": site})
    assert_error(status, r, 403, "Sec-Fetch-Site")
    # even with the studio's own Origin (a forged or proxied request)
    status, r = c.post("/api/train", {"dataset": "moons", "layers": TOY},
                       headers={"Sec-Fetch-Site": site, "Origin": server.url})
    assert_error(status, r, 403)
    assert c.get("/api/job")[1]["job"] is None
    # opening the page itself from a link on another site is fine (it changes nothing)
    status, page = c.get("/", headers={"Sec-Fetch-Site": site}, raw=True)
    assert status == 200 and b"<html" in page.lower()


@pytest.mark.parametrize("ctype", ["text/plain", "text/plain;charset=UTF-8",
                                   "application/x-www-form-urlencoded",
                                   "multipart/form-data; boundary=x", None])
def test_content_types_a_cross_site_form_can_send_are_refused(server, ctype):
    c = trained(server) if ctype is None else Client(server.url)
    headers = [("Host", f"127.0.0.1:{server.port}")]
    cookie = "; ".join(f"{k.name}={k.value}" for k in c.jar)
    if cookie:
        headers.append(("Cookie", cookie))
    if ctype:
        headers.append(("Content-Type", ctype))
    body = b'{"dataset": "moons", "layers": []}'
    for path in ("/api/train", "/api/model/save", "/api/model/load", "/api/csv",
                 "/api/train/stop", "/api/train/pause", "/api/predict", "/api/export",
                 "/api/model/check"):
        status, _, answer = raw(server, "POST", path, headers, body)
        assert status == 415, (path, ctype, answer)


def test_csv_upload_takes_text_csv_or_bytes_only(client):
    assert_error(*client.post("/api/csv?name=a.csv", CSV, content_type="text/plain"), 415,
                 "text/csv")
    assert_error(*client.post("/api/csv?name=a.csv", CSV,
                              content_type="application/vnd.ms-excel"), 415)
    assert client.post("/api/csv?name=a.csv", CSV, content_type="text/csv")[0] == 200
    assert client.post("/api/csv?name=b.csv", CSV.encode(),
                       content_type="application/octet-stream")[0] == 200


# ---------------------------------------------------------------- 2. sessions
def test_a_session_cannot_overwrite_or_download_another_sessions_model(server):
    a, b = trained(server), trained(server)
    status, sa = a.post("/api/model/save", {"name": "shared"})
    assert status == 200 and sa["name"] == "shared"
    with open(sa["path"], "rb") as f:
        a_bytes = f.read()
    # B may not overwrite A's file; without overwrite it gets its own name
    assert_error(*b.post("/api/model/save", {"name": "shared", "overwrite": True}), 409,
                 "another session")
    status, sb = b.post("/api/model/save", {"name": "shared"})
    assert status == 200 and sb["name"] == "shared-2"
    with open(sa["path"], "rb") as f:
        assert f.read() == a_bytes
    # each session downloads only its own
    status, blob = a.get("/api/model/download?name=shared", raw=True)
    assert status == 200 and blob == a_bytes
    assert_error(*b.get("/api/model/download?name=shared"), 404, "name")
    assert_error(*a.get("/api/model/download?name=shared-2"), 404, "name")
    assert b.get("/api/model/download?name=shared-2", raw=True)[0] == 200
    # the owner may overwrite its own
    status, again = a.post("/api/model/save", {"name": "shared", "overwrite": True})
    assert status == 200 and again["path"] == sa["path"]


def test_a_file_saved_before_the_server_started_belongs_to_no_session(tmp_path):
    os.makedirs(tmp_path / "models")
    (tmp_path / "models" / "old.ckpt").write_bytes(b"kept")
    s = ThreadServer(tmp_path)
    try:
        c = trained(s)
        assert_error(*c.post("/api/model/save", {"name": "old", "overwrite": True}), 409)
        assert c.post("/api/model/save", {"name": "old"})[1]["name"] == "old-2"
        assert_error(*c.get("/api/model/download?name=old"), 404)
        assert (tmp_path / "models" / "old.ckpt").read_bytes() == b"kept"
    finally:
        s.close()


def test_a_burst_of_cookie_less_requests_evicts_no_work(tmp_path, monkeypatch):
    from ournn.studio import server as studio_server
    monkeypatch.setattr(studio_server, "MAX_SESSIONS", 4)
    s = ThreadServer(tmp_path)
    try:
        worker = trained(s)
        assert worker.post("/api/csv?name=mine.csv", CSV, content_type="text/csv")[0] == 200
        saved = worker.post("/api/model/save", {"name": "work"})[1]
        job_id = worker.get("/api/job")[1]["job"]["id"]

        def burst(n):
            return [Client(s.url).get("/api/options")[0] for _ in range(n)]
        with __import__("concurrent.futures").futures.ThreadPoolExecutor(8) as pool:
            answers = sum(pool.map(burst, [25] * 8), [])
        assert set(answers) == {200}                  # empty sessions make room for new ones
        assert len(s.app.state.studio.sessions) <= 4
        # the working session kept its job, model, upload and saved file
        assert worker.get("/api/job")[1]["job"]["id"] == job_id
        assert worker.post("/api/predict", {"features": [0.0, 0.5]})[0] == 200
        assert "csv:mine" in [d["name"] for d in worker.get("/api/options")[1]["datasets"]]
        assert worker.get(saved["download"], raw=True)[0] == 200
        # when every session holds work, a new one is refused, not made by evicting one
        busy = [Client(s.url) for _ in range(3)]
        for c in busy:
            assert c.post("/api/csv?name=x.csv", CSV, content_type="text/csv")[0] == 200
        assert_error(*Client(s.url).get("/api/options"), 503, "sessions")
        for c in [worker, *busy]:
            assert c.get("/api/job")[0] == 200 and c.get("/api/options")[0] == 200
    finally:
        s.close()


# ---------------------------------------------------------------- 3. injected code
def test_a_csv_name_with_a_newline_is_refused(client):
    for name in ("x.csv\nimport os; os.system('touch PWNED')", "a\rb.csv", "a\x00.csv",
                 "../up.csv", "dir/x.csv", "c:\\x.csv", "..", "a\u2028b.csv",
                 "a\u202eb.csv", "x" * 101 + ".csv", " "):
        status, r = client.post(f"/api/csv?name={_q(name)}", CSV, content_type="text/csv")
        assert_error(status, r, 400, "name")
    label = _q("label\n")
    assert_error(*client.post(f"/api/csv?name=a.csv&label={label}", CSV,
                              content_type="text/csv"), 400, "label")


def _q(text):
    from urllib.parse import quote
    return quote(text, safe="")


def test_text_from_a_csv_reaches_the_exported_script_only_as_literals(client, tmp_path):
    evil = "a'''\"\"\"b; open('PWNED', 'w') #.csv"
    header = "x1,x2,\"'); open('PWNED2', 'w') #\\\"\"\"\n"
    text = header + "\n".join(f"{i % 5},{(i * 7) % 3},{'p' if i % 2 else 'q'}"
                              for i in range(60)) + "\n"
    status, r = client.post(f"/api/csv?name={_q(evil)}", text, content_type="text/csv")
    assert status == 200, r
    setup = {"dataset": r["dataset"]["name"], "layers": TOY, "epochs": 1}
    status, script = client.post("/api/export", setup)
    assert status == 200
    (tmp_path / "run.py").write_bytes(script)
    (tmp_path / evil).write_text(text)
    out = subprocess.run([sys.executable, "run.py"], capture_output=True, text=True,
                         cwd=tmp_path, timeout=300)
    assert out.returncode == 0, out.stderr
    assert not (tmp_path / "PWNED").exists() and not (tmp_path / "PWNED2").exists()


def test_the_script_of_a_name_with_a_newline_runs_no_injected_statement(tmp_path):
    """Below the HTTP check: even a name with a newline reaches the script as a literal."""
    from ournn.studio.datasets import parse_csv
    from ournn.studio.spec import check_setup, export_script
    name = "x.csv\nopen('PWNED', 'w')\n\"\"\"\nopen('PWNED', 'w')\n"
    ds = parse_csv(CSV.encode(), name)
    setup = check_setup({"dataset": ds.name, "layers": TOY, "epochs": 1},
                        {ds.name: ds.info()})
    script = export_script(setup, ds, [{"shape": [16]}, {"shape": [16]}, {"shape": [2]}])
    (tmp_path / "run.py").write_text(script)
    out = subprocess.run([sys.executable, "run.py"], capture_output=True, text=True,
                         cwd=tmp_path, timeout=120)
    assert "FileNotFoundError" in out.stderr        # it looks for the file by its odd name
    assert not (tmp_path / "PWNED").exists()


# ---------------------------------------------------------------- 3. saves never hang
def test_a_long_taken_name_saves_at_once(server):
    c = trained(server)
    long = "m" * 64
    names = []
    for _ in range(4):
        t0 = time.monotonic()
        status, r = c.post("/api/model/save", {"name": long}, timeout=20)
        assert status == 200 and time.monotonic() - t0 < 10, r
        names.append(r["name"])
    assert names[0] == long and len(set(names)) == 4
    assert all(len(n) <= 64 and os.path.exists(os.path.join(
        server.app.state.studio.workdir, "models", n + ".ckpt")) for n in names)
    # another session's save of the same name is not held up either
    other = trained(server)
    t0 = time.monotonic()
    assert other.post("/api/model/save", {"name": long}, timeout=20)[0] == 200
    assert time.monotonic() - t0 < 10


def test_the_free_name_search_is_bounded(server, monkeypatch):
    from ournn.studio import server as studio_server
    c = trained(server)
    studio = server.app.state.studio
    monkeypatch.setattr(studio_server.os.path, "exists", lambda p: True)   # every name taken
    t0 = time.monotonic()
    assert_error(*c.post("/api/model/save", {"name": "full"}, timeout=20), 409, "no free name")
    assert time.monotonic() - t0 < 10
    monkeypatch.undo()
    assert not any(k.startswith("full") for k in studio.owners)


def test_a_save_during_training_does_not_freeze_the_job(server):
    c = Client(server.url)
    status, _ = c.post("/api/train", {"dataset": "moons", "layers": TOY, "epochs": 500,
                                      "batch_size": 4})
    assert status == 202
    time.sleep(0.5)
    for _ in range(3):
        t0 = time.monotonic()
        status, r = c.post("/api/model/save", {"name": "t" * 64}, timeout=30)
        assert status == 200 and time.monotonic() - t0 < 10, r
    step = c.get("/api/job")[1]["job"]["global_step"]
    time.sleep(0.5)
    assert c.get("/api/job")[1]["job"]["global_step"] > step        # still training
    assert c.post("/api/train/stop")[0] == 200
    assert c.wait_job(timeout=30)["state"] == "stopped"


# ---------------------------------------------------------------- 5. numbers and JSON
BAD_NUMBERS = ["NaN", "Infinity", "-Infinity", "1e999", "-1e999", "1" * 5000, "1" * 400,
               "-" + "9" * 400, "1e-400", "4.5", "1e308", "true", "\"7\"", "[3]", "{}"]


@pytest.mark.parametrize("field", ["lr", "epochs", "batch_size", "seed", "weight_decay",
                                   "train_size"])
def test_absurd_numbers_are_4xx_naming_the_field(client, field):
    for number in BAD_NUMBERS:
        body = ('{"dataset": "moons", "layers": ' + json.dumps(TOY) + f', "{field}": {number}}}')
        status, r = client.post("/api/export", body, content_type="application/json")
        if status == 200:            # a value that happens to be valid (4.5 as lr)
            continue
        assert status == 400, (field, number, r)
        if number == "1" * 5000:         # beyond what Python reads as an int
            assert "too many digits" in r["error"], r
        else:
            assert r["field"] == field and field in r["error"], (field, number, r)


def test_random_numbers_anywhere_are_never_a_500(server):
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st
    client = Client(server.url)
    client.get("/api/options")
    number = st.one_of(st.integers(-10 ** 500, 10 ** 500), st.floats(),
                       st.sampled_from(BAD_NUMBERS))
    field = st.sampled_from(["lr", "epochs", "batch_size", "seed", "weight_decay",
                             "train_size", "layers.0.out_features", "layers.0.bias",
                             "layers.1.p", "features.0", "pixels.0.0"])

    def literal(value):
        if isinstance(value, str):
            return value
        return str(value) if isinstance(value, int) else json.dumps(value)   # NaN, Infinity

    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
    @given(field=field, value=number, path=st.sampled_from(
        ["/api/export", "/api/model/check", "/api/predict"]))
    def check(field, value, path):
        body = {"dataset": "moons", "layers": [dict(TOY[0]), {"type": "Dropout"},
                                               dict(TOY[2])], "features": [0.1, 0.2],
                "pixels": [[0.0] * 28] * 28}
        marker = "\"__VALUE__\""
        *parents, last = field.split(".")
        target = body
        for p in parents:
            target = target[int(p)] if p.isdigit() else target[p]
        target[int(last) if last.isdigit() else last] = "__VALUE__"
        text = json.dumps(body).replace(marker, literal(value))
        status, r = client.post(path, text, content_type="application/json")
        assert status < 500, (path, field, value, r)
        if status >= 400:
            assert r["error"], r

    check()


def test_deep_or_huge_json_is_a_400(client):
    for text in ("[" * 100000, '{"a": ' * 5000 + "1" + "}" * 5000,
                 json.dumps({"dataset": "moons", "layers": TOY, "x": [[[[[[[[[[[[[[[[[[[[
                     [[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}),
                 '{"dataset": "moons", "layers": ' + "[" * 50 + "]" * 50 + "}"):
        status, r = client.post("/api/model/check", text, content_type="application/json")
        assert_error(status, r, 400)
        assert "nested" in r["error"] or "JSON" in r["error"], r
    # a body of 1 MB of one string or one list is refused by size or by the checks
    for text in ('{"dataset": "' + "m" * 1_000_000 + '"}', "[" + "1," * 400_000 + "1]"):
        status, r = client.post("/api/model/check", text, content_type="application/json")
        assert 400 <= status < 500 and len(r["error"]) < 1000, (status, r)


def test_hostile_prediction_inputs_are_4xx(server):
    c = trained(server)
    for body in ({"features": [1e39, 0]}, {"features": [10 ** 400, 0]},
                 {"features": "12"}, {"features": [[1], [2]]},
                 {"features": [True, False]}, {"features": None}):
        status, r = c.post("/api/predict", body)
        assert 400 <= status < 500, (body, r)
    status, r = c.post("/api/predict", '{"features": [NaN, 1]}',
                       content_type="application/json")
    assert_error(status, r, 400, "features[0]", "float32")
    # in range for float32 but too large for the model: an answer or a 422, never a 500
    status, r = c.post("/api/predict", {"features": [3e38, -3e38]})
    assert status in (200, 422), r


def test_save_names_with_control_characters_are_refused(server):
    c = trained(server)
    for name in ("model\n", "mo\ndel", "a\tb", "a\x00b", "a/b", "..", ".hidden", "-x",
                 "a" * 65, "mödel", "a b", "", None, 7, ["a"], "con\r"):
        assert_error(*c.post("/api/model/save", {"name": name}), 400, "name")
    for name in ("model\n", "a/../b", "%2e%2e"):
        assert_error(*c.get(f"/api/model/download?name={_q(name)}"), 400, "name")


# ---------------------------------------------------------------- 5. hostile checkpoints
def _archive(meta, arrays=(), compression=zipfile.ZIP_STORED):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as z:
        for name, data in arrays:
            z.writestr(name, data)
        z.writestr("__meta__.json", json.dumps(meta))
    return buf.getvalue()


def _linear_meta(n_in, n_out):
    config = {"class": "Sequential", "config": {"layers": [
        {"class": "Flatten", "config": {"start_dim": 1, "end_dim": -1}},
        {"class": "Linear", "config": {"in_features": n_in, "out_features": n_out,
                                       "bias": True}}], "names": ["0", "1"]}}
    return {"format": "ournn-checkpoint", "version": 1, "tree": {
        "model": {"__module__": config, "state_dict": {"1.weight": {"__array__": "a0"},
                                                       "1.bias": {"__array__": "a1"}}},
        "dataset": "mnist", "input_shape": [1, 28, 28]}}


def _load(c, blob):
    t0 = time.monotonic()
    status, r = c.post("/api/model/load", blob)
    return status, r, time.monotonic() - t0


def test_a_tiny_checkpoint_declaring_a_huge_model_is_refused_before_building(client):
    blob = _archive(_linear_meta(784, 400000))
    assert len(blob) < 1200
    status, r, seconds = _load(client, blob)
    assert_error(status, r, 413, "parameters", "20,000,000")
    assert seconds < 5
    # a layer the studio has no limit for, and arguments that are not plain numbers
    for n_in, n_out in ((784, 10 ** 12), (784, -5), (784, "10"), (784, 1.5), (10 ** 30, 1),
                        (784, [10, 10]), (784, True)):
        status, r, seconds = _load(client, _archive(_linear_meta(n_in, n_out)))
        assert 400 <= status < 500 and seconds < 5, (n_in, n_out, r)


def test_an_array_header_declaring_more_than_it_holds_is_refused(client):
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False,
                                                  "shape": (400000, 784)})
    blob = _archive(_linear_meta(784, 10), [("a0.npy", header.getvalue() + b"\0" * 16),
                                            ("a1.npy", header.getvalue())])
    status, r, seconds = _load(client, blob)
    assert_error(status, r, 400, "declares shape", "(400000, 784)")
    assert seconds < 5


def test_a_zip_bomb_is_refused_before_it_is_unpacked(client):
    buf = io.BytesIO()
    chunk = bytes(1 << 20)
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        with z.open("a0.npy", "w", force_zip64=True) as f:
            for _ in range(600):
                f.write(chunk)
        z.writestr("__meta__.json", json.dumps(_linear_meta(784, 10)))
    blob = buf.getvalue()
    assert len(blob) < 2 * 1024 * 1024
    status, r, seconds = _load(client, blob)
    assert_error(status, r, 413, "unpacked", "512 MB")
    assert seconds < 5


def _studio_checkpoint(server):
    c = trained(server)
    saved = c.post("/api/model/save", {"name": "meta-src"})[1]
    with open(saved["path"], "rb") as f:
        return f.read()


def _with_meta(blob, change):
    src = zipfile.ZipFile(io.BytesIO(blob))
    meta = json.loads(src.read("__meta__.json"))
    change(meta["tree"])
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for info in src.infolist():
            data = json.dumps(meta) if info.filename == "__meta__.json" else src.read(info)
            z.writestr(info.filename, data)
    return out.getvalue()


def test_malformed_checkpoint_metadata_is_a_400(server, client):
    blob = _studio_checkpoint(server)
    assert client.post("/api/model/load", blob)[0] == 200
    changes = {
        "studio_setup is a string": lambda t: t.update(studio_setup="x"),
        "studio_setup is a list": lambda t: t.update(studio_setup=[1, 2]),
        "dataset is a list": lambda t: t["studio_setup"].update(dataset=["moons"]),
        "dataset is unknown": lambda t: t["studio_setup"].update(dataset="cifar"),
        "input_shape is text": lambda t: t.update(input_shape="2"),
        "input_shape is nested": lambda t: t.update(input_shape=[[2]]),
        "lr is text": lambda t: t["studio_setup"].update(lr="fast"),
        "epochs is huge": lambda t: t["studio_setup"].update(epochs=10 ** 30),
        "optimizer is a dict": lambda t: t["studio_setup"].update(optimizer={"a": 1}),
        "weights are not numbers": lambda t: t["model"]["state_dict"].update(
            {"0.weight": "zero"}),
        "config has no class": lambda t: t["model"]["__module__"].pop("class"),
        "layers is a dict": lambda t: t["model"]["__module__"]["config"].update(layers={}),
        "a layer of an unknown kind": lambda t: t["model"]["__module__"]["config"].update(
            layers=[{"class": "os.system", "config": {}}], names=["0"]),
        "the tree is a number": lambda t: t.clear(),
    }
    for what, change in changes.items():
        status, r = client.post("/api/model/load", _with_meta(blob, change))
        assert 400 <= status < 500, (what, r)
        assert r["error"] and "internal" not in r["error"], (what, r)
    for meta in ('{"format": "ournn-checkpoint", "version": 1, "tree": ' + "[" * 5000 +
                 "]" * 5000 + "}", "NaN", "not json", '{"tree": {"x": Infinity}}'):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            z.writestr("__meta__.json", meta)
        status, r = client.post("/api/model/load", buf.getvalue())
        assert_error(status, r, 400)


def test_weights_that_are_not_finite_are_refused(server, client):
    blob = _studio_checkpoint(server)
    src = zipfile.ZipFile(io.BytesIO(blob))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for info in src.infolist():
            data = src.read(info)
            if info.filename.endswith(".npy"):
                arr = np.load(io.BytesIO(data))
                if arr.dtype.kind == "f":
                    arr = np.full_like(arr, np.nan)
                    f = io.BytesIO()
                    np.save(f, arr)
                    data = f.getvalue()
            z.writestr(info.filename, data)
    assert_error(*client.post("/api/model/load", out.getvalue()), 400, "NaN")


@pytest.mark.parametrize("blob", [
    b"hello, this is a text file\n", b"\x80\x04\x95" + b"\0" * 40,       # a pickle
    b"\x93NUMPY\x01\x00v\x00{'descr': '|O', 'fortran_order': False, 'shape': (1,), }" +
    b" " * 60 + b"\n" + b"\x80\x04N.",                                    # a .npy of objects
    b"PK\x03\x04" + b"\0" * 100, b"PK\x05\x06" + b"\0" * 18])
def test_corrupt_checkpoints_never_suggest_unpickling(client, blob):
    status, r = client.post("/api/model/load", blob)
    assert_error(status, r, 400)
    assert "allow_pickle" not in r["error"] and "pickle=" not in r["error"]


def test_an_object_array_inside_an_archive_is_refused_without_pickle_advice(client):
    buf = io.BytesIO()
    np.savez(buf, a0=np.array([{"a": 1}], dtype=object))
    src = zipfile.ZipFile(io.BytesIO(buf.getvalue()))
    blob = _archive(_linear_meta(784, 10), [("a0.npy", src.read("a0.npy"))])
    status, r = client.post("/api/model/load", blob)
    assert_error(status, r, 400, "Python objects")
    assert "allow_pickle" not in r["error"]


# ---------------------------------------------------------------- more hostile requests
def test_odd_requests_are_4xx(server, client):
    base = f"127.0.0.1:{server.port}"
    cases = [
        ("GET", "/api/datasets/" + "x" * 5000 + "/samples", []),
        ("GET", "/api/datasets/moons/samples?n=" + "9" * 5000, []),
        ("GET", "/api/datasets/moons/samples?n=-5", []),
        ("GET", "/api/model/download?name=" + "a" * 10000, []),
        ("GET", "/api/zoo/cnn?dataset=" + "%00" * 100, []),
        ("GET", "/api/model/download", []),
        ("GET", "/api/datasets/%2e%2e%2f%2e%2e%2fetc/samples", []),
        ("GET", "/static/../server.py", []),
        ("GET", "/static/%2e%2e/server.py", []),
        ("DELETE", "/api/train", []),
        ("PUT", "/api/model/save", [("Content-Type", "application/json")]),
    ]
    for method, path, headers in cases:
        status, _, answer = raw(server, method, path, [("Host", base), *headers],
                                b"{}" if method in ("PUT",) else b"")
        assert status < 500, (method, path, answer)
        assert b"def create_app" not in answer
    # a cookie that is not one of ours just gets a new session
    status, _, _ = raw(server, "GET", "/api/job", [("Host", base),
                                                   ("Cookie", "ournn_session=" + "x" * 4000)])
    assert status == 200


def test_event_streams_are_bounded(server, monkeypatch):
    from ournn.studio import server as studio_server
    monkeypatch.setattr(studio_server, "MAX_STREAMS", 1)
    c = Client(server.url)
    c.get("/api/options")
    import urllib.request
    first = c.opener.open(urllib.request.Request(server.url + "/api/events"), timeout=10)
    try:
        first.readline()
        deadline = time.time() + 5
        while server.app.state.studio.streams < 1 and time.time() < deadline:
            time.sleep(0.05)
        assert_error(*c.get("/api/events"), 503, "event streams")
    finally:
        first.close()
    deadline = time.time() + 10                  # the closed stream is counted out
    while server.app.state.studio.streams and time.time() < deadline:
        time.sleep(0.1)
    assert server.app.state.studio.streams == 0


def test_concurrent_saves_of_one_name_get_distinct_files(server):
    c = trained(server)
    results = []

    def save():
        results.append(c.post("/api/model/save", {"name": "race"}, timeout=30)[1]["name"])
    threads = [threading.Thread(target=save) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(results) == 6 and len(set(results)) == 6


def test_a_cors_preflight_is_never_granted(server):
    for origin in ("http://evil.example", server.url):
        status, headers, _ = raw(server, "OPTIONS", "/api/train", [
            ("Host", f"127.0.0.1:{server.port}"), ("Origin", origin),
            ("Access-Control-Request-Method", "POST"),
            ("Access-Control-Request-Headers", "content-type")])
        assert status in (403, 405)
        assert not any(k.lower().startswith("access-control-") for k, _ in headers)


def test_a_session_with_a_request_in_flight_is_never_forgotten(tmp_path, monkeypatch):
    """A new browser's first request (say, a CSV upload still being read) keeps its session
    even when a burst fills the table meanwhile."""
    from types import SimpleNamespace

    from ournn.studio import server as studio_server
    monkeypatch.setattr(studio_server, "MAX_SESSIONS", 2)
    studio = studio_server.Studio(tmp_path)
    cookie_less = SimpleNamespace(cookies={})
    first, _ = studio.session(cookie_less)            # in flight: not released yet
    second, _ = studio.session(cookie_less)
    second.requests -= 1                              # done, and empty
    third, _ = studio.session(cookie_less)            # forgets `second`, not `first`
    assert first.id in studio.sessions and second.id not in studio.sessions
    third.requests -= 1
    assert studio.session(cookie_less)[0].id != first.id
    with pytest.raises(studio_server.HTTPError) as e:  # first in flight, the other too
        studio.session(cookie_less)
    assert e.value.status == 503


def test_random_hosts_and_origins_pass_only_when_exactly_allowed():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from ournn.studio.guard import Guard
    guard = Guard(None, hosts=["studio.lan"], port=8765)
    hosts = {"127.0.0.1:8765", "localhost:8765", "[::1]:8765", "studio.lan:8765"}
    near = st.sampled_from(sorted(hosts)).flatmap(lambda h: st.sampled_from(
        [h, h + ".", h + " ", "x" + h, h + "0", h.upper(), h.replace(":", "::"),
         h.replace("8765", "8766"), h.split(":")[0] if "]" not in h else "[::1]"]))
    text = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=255), max_size=40)

    @settings(max_examples=400, deadline=None)
    @given(host=st.one_of(near, text), origin=st.one_of(st.none(), near.map(
        lambda h: "http://" + h), text), method=st.sampled_from(["GET", "POST", "PUT"]),
        path=st.sampled_from(["/", "/api/train", "/static/api.js"]))
    def check(host, origin, method, path):
        headers = [(b"host", host.encode("latin-1"))]
        if origin is not None:
            headers.append((b"origin", origin.encode("latin-1")))
        refusal = guard.check({"type": "http", "method": method, "path": path,
                               "server": ("127.0.0.1", 8765), "headers": headers})
        host_ok = host.strip().lower() in hosts
        origin_ok = origin is None or origin.strip().lower() in {"http://" + h for h in hosts}
        needs_origin = method != "GET" or path.startswith("/api/")
        assert (refusal is None) == (host_ok and (origin_ok or not needs_origin)), refusal
        if refusal is not None:
            assert 400 <= refusal[0] < 500 and refusal[1]

    check()
