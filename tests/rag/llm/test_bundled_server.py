"""The bundled model server is the app's alone: it listens on loopback, never on the app's HOST and PORT."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from harness.ports import free_port
from rag.llm.bundled import child_environment


def test_host_and_port_never_reach_the_model_server(env):
    env(HOST="0.0.0.0", PORT=str(free_port()))
    environment = child_environment()
    assert "HOST" not in environment and "PORT" not in environment and environment["PATH"] == os.environ["PATH"]


@pytest.mark.slow
def test_bundled_server_listens_on_loopback_even_with_host_and_port_set(env):
    from rag.llm.bundled import LocalLLMServer

    taken = socket.socket()
    taken.bind(("0.0.0.0", 0))
    port = taken.getsockname()[1]
    env(HOST="0.0.0.0", PORT=str(port))  # PORT: the app's own port, as a hosting platform sets it
    server = LocalLLMServer("m")
    try:
        url = server.start()
        assert url.startswith("http://127.0.0.1:") and f":{port}/" not in url
        listening = Path("/proc/net/tcp").read_text()
        own = f"{int(url.split(':')[2].split('/')[0]):04X}"
        assert f"0100007F:{own}" in listening and f"00000000:{own}" not in listening
    finally:
        server.stop()
        taken.close()
