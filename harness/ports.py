"""Free loopback ports for the servers tests and benchmarks start, and what waits on them."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

TCP_TABLES = (Path("/proc/net/tcp"), Path("/proc/net/tcp6"))
LISTEN, ESTABLISHED = "0A", "01"


def free_port() -> int:
    """A loopback port nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, timeout: float = 10) -> bool:
    """Whether `process` listens on the loopback `port` within `timeout` seconds (False: it exited, or not yet)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def _sockets() -> list[list[str]]:
    """The kernel's TCP sockets, a row of /proc/net/tcp(6) each: local address, state, queues, inode..."""
    return [line.split() for table in TCP_TABLES if table.exists() for line in table.read_text().splitlines()[1:]]


def _port(address: str) -> int:
    return int(address.rsplit(":", 1)[1], 16)


def _fd_links(pid: int) -> Iterator[str]:
    """What each open file of `pid` points at; a file it closes while they are read is skipped (the model
    server opens and closes files as it starts and answers)."""
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(FileNotFoundError):
            yield os.readlink(fd)


def listening_ports(pid: int) -> set[int]:
    """The ports process `pid` listens on (read from /proc, so a stopped process answers too)."""
    inodes = {link[len("socket:[") : -1] for link in _fd_links(pid) if link.startswith("socket:[")}
    return {_port(row[1]) for row in _sockets() if row[3] == LISTEN and row[9] in inodes}


def wait_for_request(ports: set[int], timeout: float = 60) -> None:
    """Wait until bytes wait unread in a connection to one of `ports`: a request has reached a server that
    does not read it (stopped, or busy)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for row in _sockets():
            if row[3] == ESTABLISHED and _port(row[1]) in ports and int(row[4].split(":")[1], 16) > 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"no request reached ports {sorted(ports)} in {timeout:.0f} s")
