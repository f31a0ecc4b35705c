"""ournn studio: build, train and watch a network in the browser.

``ournn studio`` (or ``ournn.studio.serve()``) starts a local web server; see docs/studio.md.
It needs the ``studio`` extra: ``pip install 'ournn[studio]'`` (Starlette, Uvicorn, Pillow).
"""


def _require():
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as e:
        raise ImportError("ournn studio needs its extra: pip install 'ournn[studio]' "
                          f"(missing: {e.name})") from e


def create_app(workdir="studio-runs", data_dir=None, host=None, port=None):
    """The studio as an ASGI application. It answers only for the host names 127.0.0.1,
    localhost, [::1] and ``host``, on ``port`` (None: the port a request came in on), and
    refuses requests from other web sites (docs/security.md)."""
    _require()
    from .server import create_app as make
    return make(workdir, data_dir, host, port)


def serve(host="127.0.0.1", port=8765, open_browser=True, workdir="studio-runs",
          data_dir=None, log_level="warning"):
    """Run the studio until Ctrl-C (or SIGTERM). Running jobs are stopped first, and each
    saves a complete ``last.ckpt`` in its run folder under ``workdir``."""
    _require()
    import threading
    import webbrowser

    import uvicorn

    app = create_app(workdir, data_dir, host, port or None)
    studio = app.state.studio

    class Server(uvicorn.Server):
        def handle_exit(self, sig, frame):
            # end the event streams and stop the jobs at once; uvicorn would otherwise wait
            # for the open streams to close before shutting down
            studio.begin_shutdown()
            super().handle_exit(sig, frame)

    config = uvicorn.Config(app, host=host, port=port, log_level=log_level,
                            timeout_graceful_shutdown=5)
    server = Server(config)
    url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}/"

    def announce():
        while not server.started and not server.should_exit:
            threading.Event().wait(0.05)
        if server.started:
            print(f"ournn studio at {url}  (runs and models in {studio.workdir}; "
                  "Ctrl-C stops)", flush=True)
            if open_browser:
                webbrowser.open(url)

    if host not in ("127.0.0.1", "localhost", "::1"):
        print(f"warning: serving on {host}: anyone who can reach this machine can use the "
              "studio (it has no login)", flush=True)
    threading.Thread(target=announce, daemon=True).start()
    try:
        server.run()
    finally:
        studio.shutdown()
    return 0
