"""The studio's API tests share one server per test module (``server``, in this process) and
a client with its own session (``client``)."""
import pytest

from studio_server import Client, ThreadServer


@pytest.fixture(scope="module")
def server(request, tmp_path_factory):
    s = ThreadServer(tmp_path_factory.mktemp(request.module.__name__.rsplit(".", 1)[-1]))
    yield s
    s.close()


@pytest.fixture
def client(server):
    return Client(server.url)
