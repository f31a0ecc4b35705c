"""The studio answers only its own page: an ASGI middleware in front of every route.

- ``Host`` must be one of the names the server was started for (127.0.0.1, localhost, [::1]
  and the ``--host`` given), with the server's port. Anything else (a DNS-rebinding page, a
  proxy that forwards a foreign name) gets a 400 before any handler runs.
- A request that can change state (any method but GET, HEAD, OPTIONS), and every request to
  ``/api/``, is refused with a 403 when the browser says it comes from another site:
  an ``Origin`` that is not the studio's own (another port of localhost counts as another
  site, and so does ``null``), or ``Sec-Fetch-Site`` other than ``same-origin`` or ``none``.
  Clients that are not browsers (curl, scripts) send neither header and are let through:
  they run on this machine with the user's rights anyway.

The content types a cross-site form can send without a preflight (form-encoded, multipart,
text/plain) are refused by the handlers themselves (see ``server._body``).
"""
import json

LOOPBACK = ("127.0.0.1", "localhost", "[::1]")
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
SAME_SITE = ("same-origin", "none")


def host_name(host):
    """How ``host`` (a name or address, as ``--host`` takes it) appears in a Host header."""
    host = host.strip().lower()
    if ":" in host and not host.startswith("["):          # an IPv6 address
        host = f"[{host}]"
    return host


class Guard:
    """ASGI middleware: the Host allow-list and the Origin / Sec-Fetch-Site checks.

    ``port`` is the port the server listens on (None: the port of the socket the request came
    in on, from the ASGI scope)."""

    def __init__(self, app, hosts=(), port=None):
        self.app = app
        self.names = tuple(dict.fromkeys([*LOOPBACK, *(host_name(h) for h in hosts if h)]))
        self.port = port

    def allowed_hosts(self, port):
        out = {f"{name}:{port}" for name in self.names}
        if port == 80:
            out.update(self.names)
        return out

    def allowed_origins(self, port):
        return {f"http://{h}" for h in self.allowed_hosts(port)}

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        refusal = self.check(scope)
        if refusal is None:
            return await self.app(scope, receive, send)
        status, message, field = refusal
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        body = json.dumps({"error": message, "field": field}).encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    def check(self, scope):
        """None when the request may go on, else ``(status, message, field)``."""
        headers = {}
        for key, value in scope.get("headers", ()):
            headers.setdefault(key.decode("latin-1").lower(), []).append(
                value.decode("latin-1"))
        port = self.port
        if port is None:
            server = scope.get("server")
            port = server[1] if server and len(server) > 1 else None
        if port is None:
            return 400, "the studio cannot tell which port it serves; refusing the request", \
                "host"
        hosts = headers.get("host", [])
        if len(hosts) != 1:
            return 400, "the request must have exactly one Host header", "host"
        host = hosts[0].strip().lower()
        allowed = self.allowed_hosts(port)
        if host not in allowed:
            return 400, (f"this studio answers only for {', '.join(sorted(allowed))}, not for "
                         f"the host {_show(host)}"), "host"
        method = scope.get("method", "GET").upper()
        if method in SAFE_METHODS and not scope.get("path", "").startswith("/api/"):
            return None                  # the page and its files: opening them changes nothing
        origins = headers.get("origin", [])
        if len(origins) > 1:
            return 403, "the request has more than one Origin header", "origin"
        if origins:
            origin = origins[0].strip().lower()
            if origin not in self.allowed_origins(port):
                return 403, (f"requests from another site are refused (Origin {_show(origin)}); "
                             "use the studio's own page"), "origin"
        sites = headers.get("sec-fetch-site", [])
        if any(s.strip().lower() not in SAME_SITE for s in sites):
            return 403, (f"requests from another site are refused (Sec-Fetch-Site "
                         f"{_show(sites[0])}); use the studio's own page"), "origin"
        return None


def _show(text, limit=80):
    """A header value for an error message: quoted, control characters escaped, cut short."""
    text = repr(text)
    return text if len(text) <= limit else text[:limit] + "...'"
