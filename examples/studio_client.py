"""Drive ournn studio from a script: everything the page does is plain HTTP + JSON.

Start the studio (``ournn studio --no-browser``), then:

    python examples/studio_client.py                      # http://127.0.0.1:8765
    python examples/studio_client.py --url http://127.0.0.1:9000 --epochs 40

The script builds a small net for the two-moons toy set, checks its shapes, trains it, follows
the live events (one line per epoch), asks the trained model about a few points and saves it.
Only the standard library is used; see docs/studio.md for the whole API.
"""
import argparse
import http.cookiejar
import json
import urllib.error
import urllib.request

LAYERS = [{"type": "Linear", "out_features": 16}, {"type": "Tanh"},
          {"type": "Linear", "out_features": 16}, {"type": "Tanh"},
          {"type": "Linear", "out_features": 2}]


class Studio:
    """A client with its own cookie jar, i.e. its own studio session."""

    def __init__(self, url):
        self.url = url.rstrip("/")
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        try:
            with self.opener.open(request, timeout=60) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as e:          # the studio explains every 4xx
            raise SystemExit(f"{method} {path}: {e.code} {json.loads(e.read())['error']}")

    def events(self):
        """The server-sent events as (name, data) pairs, until the stream ends."""
        with self.opener.open(self.url + "/api/events", timeout=600) as stream:
            name = None
            for line in stream:
                line = line.decode().rstrip("\n")
                if line.startswith("event: "):
                    name = line[len("event: "):]
                elif line.startswith("data: "):
                    yield name, json.loads(line[len("data: "):])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8765")
    parser.add_argument("--epochs", type=int, default=30)
    args = parser.parse_args(argv)

    studio = Studio(args.url)
    setup = {"dataset": "moons", "layers": LAYERS, "epochs": args.epochs, "lr": 0.01,
             "batch_size": 32}
    check = studio.call("POST", "/api/model/check", setup)
    if not check["ok"]:
        raise SystemExit(f"layer {check['error']['index'] + 1}: {check['error']['message']}")
    print(f"network: {check['total_params']} parameters, "
          + " -> ".join(row["title"] for row in check["rows"]))

    events = studio.events()
    next(events)                                   # the snapshot of the session's last job
    studio.call("POST", "/api/train", setup)
    for name, data in events:
        if name == "epoch" and (data["epoch"] % 10 == 0 or data["epoch"] == 1):
            print(f"epoch {data['epoch']:3d}  loss {data['loss']:.4f}  "
                  f"val accuracy {100 * data['val_accuracy']:.1f}%")
        elif name == "done":
            print(f"training {data['state']}")
            break

    for point in ([-1.0, 0.5], [0.0, 1.0], [1.0, -0.5], [2.0, 0.0]):
        answer = studio.call("POST", "/api/predict", {"features": point})
        p = answer["probabilities"][answer["prediction"]]
        print(f"point {point}: class {answer['classes'][answer['prediction']]} ({100 * p:.0f}%)")
    saved = studio.call("POST", "/api/model/save", {"name": "moons-from-script"})
    print(f"saved to {saved['path']}")
    return saved


if __name__ == "__main__":
    main()
