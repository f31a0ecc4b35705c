"""Downloading one file atomically, with a progress line.

The bytes go to a temporary file beside the destination (named as every atomic write in
ournn names its own, see :mod:`ournn.files`) and are renamed over it only when complete and
accepted; so no half-written file is ever left behind.
"""
import sys
import time
import urllib.request

from ..errors import DatasetError
from ..files import atomic_write

TIMEOUT = 30.0  # seconds without data before a download is given up
_CHUNK = 1 << 16


def download_file(url, dest, *, timeout=None, stream=None, check=None):
    """Download ``url`` to ``dest`` atomically; returns ``check(temporary_path)`` (or None).

    The bytes go to a temporary file in ``dest``'s folder which is renamed to ``dest`` only
    when complete and accepted by ``check`` (a callable that raises to reject it); on any
    error the temporary file is removed, so no half-written file is ever left behind."""
    return atomic_write(dest, lambda out: stream_url(url, out, timeout=timeout, stream=stream),
                        check=check)


def stream_url(url, out, *, timeout=None, stream=None, headers=None):
    """Copy the body of ``url`` into the binary file ``out``; returns the number of bytes.

    Progress (percent, MB) is drawn on ``stream`` (default stderr) when it is a terminal,
    else one line is printed. Raises DatasetError if the connection drops before the announced
    Content-Length arrived, urllib's errors (OSError) for everything else."""
    timeout = TIMEOUT if timeout is None else timeout
    request = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        length = response.headers.get("Content-Length")
        total = int(length) if length and length.isdigit() else None
        progress = _Progress(url, total, sys.stderr if stream is None else stream)
        done = 0
        while True:
            chunk = response.read(_CHUNK)
            if not chunk:
                break
            out.write(chunk)
            done += len(chunk)
            progress.update(done)
        progress.finish(done)
    if total is not None and done != total:
        raise DatasetError(f"{url}: connection dropped after {done} of {total} bytes")
    return done


class _Progress:
    """Download progress: a live line on a terminal, a single line otherwise."""

    def __init__(self, url, total, stream):
        self.url, self.total, self.stream = url, total, stream
        self.live = bool(getattr(stream, "isatty", lambda: False)())
        self.last = 0.0
        if not self.live:
            size = f"{total / 1e6:.1f} MB" if total is not None else "size unknown"
            print(f"ournn: downloading {url} ({size})", file=stream, flush=True)

    def _draw(self, done):
        name = self.url.rsplit("/", 1)[-1]
        if self.total:
            text = (f"\rDownloading {name}: {100 * done / self.total:3.0f}% "
                    f"({done / 1e6:.1f}/{self.total / 1e6:.1f} MB)")
        else:
            text = f"\rDownloading {name}: {done / 1e6:.1f} MB"
        self.stream.write(text)
        self.stream.flush()

    def update(self, done):
        now = time.monotonic()
        if self.live and now - self.last >= 0.1:
            self.last = now
            self._draw(done)

    def finish(self, done):
        if self.live:
            self._draw(done)
            self.stream.write("\n")
            self.stream.flush()

