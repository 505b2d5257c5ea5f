"""A real PostgreSQL 15 server for the tests: initdb + pg_ctl in a temporary folder, on a free loopback port.

As root (CI), the server runs as the `postgres` user, since PostgreSQL refuses to run as root.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from harness import Missing
from harness.ports import free_port

BIN = Path("/usr/lib/postgresql/15/bin")


class Postgres:
    def __init__(self) -> None:
        if not (BIN / "initdb").exists():
            raise Missing(f"PostgreSQL 15 is not installed ({BIN}); `.ci/run` installs it (apt-get install postgresql)")
        # Not under pytest's tmp_path: its folders are private to root, and the server runs as `postgres`.
        self.folder = Path(tempfile.mkdtemp(prefix="tutor-pg-"))
        self.port = free_port()
        self.data = self.folder / "pgdata"
        self.as_root = os.geteuid() == 0
        if self.as_root:
            shutil.chown(self.folder, "postgres", "postgres")
        self._run(BIN / "initdb", "-D", str(self.data), "-U", "tutor", "--auth=trust", "-E", "UTF8")
        self._run(
            BIN / "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.folder / "server.log"),
            "-w",
            "start",
            "-o",
            f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off",
        )
        self._run(BIN / "createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "tutor", "tutor")

    @property
    def url(self) -> str:
        return f"postgresql://tutor@127.0.0.1:{self.port}/tutor"

    def new_database(self) -> str:
        """A fresh, empty database on this server; its URL."""
        name = f"t{time.monotonic_ns()}"
        self._run(BIN / "createdb", "-h", "127.0.0.1", "-p", self.port, "-U", "tutor", name)
        return self.url.rsplit("/", 1)[0] + "/" + name

    def _run(self, *command: object) -> None:
        args = [str(c) for c in command]
        if self.as_root:
            args = ["runuser", "-u", "postgres", "--", *args]
        subprocess.run(args, check=True, capture_output=True, cwd=self.folder)

    def stop(self) -> None:
        self._run(BIN / "pg_ctl", "-D", str(self.data), "-m", "immediate", "stop")
        shutil.rmtree(self.folder, ignore_errors=True)
