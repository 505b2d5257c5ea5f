"""A real Redis server (Debian's redis-server) for the tests, on a free loopback port, keeping nothing on disk."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from harness import Missing
from harness.ports import free_port, wait_for_port


class Redis:
    def __init__(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise Missing("redis-server is not installed; `.ci/run` installs it (apt-get install redis-server)")
        self.folder = Path(tempfile.mkdtemp(prefix="tutor-redis-"))
        self.port = free_port()
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            cwd=self.folder,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        if not wait_for_port(self.port, self.process):
            self.stop()
            raise RuntimeError(f"redis-server did not listen on port {self.port} within 10 s")

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)
        shutil.rmtree(self.folder, ignore_errors=True)
