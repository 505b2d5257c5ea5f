"""nginx from Debian's packages in front of several app processes, on a free loopback port: the load balancer
of the deployment in docs/deployment.md, with sticky sessions (Chainlit's Socket.IO keeps state in the process
that opened it) and WebSocket upgrade. `CONFIG` is that page's snippet; the test runs exactly it."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from harness import Missing
from harness.ports import free_port, wait_for_port
from rag.identity import VISITOR_COOKIE

# The same browser or REST client (its visitor cookie, its Chainlit session or its bearer token) always reaches
# the same process while it is up; a client with none of them is placed by its address.
CONFIG = """
map $http_upgrade $connection_upgrade {
    default upgrade;
    ''      close;
}
map "$cookie_%(visitor)s$cookie_access_token$http_authorization" $tutor_client {
    ""      $remote_addr;
    default "$cookie_%(visitor)s$cookie_access_token$http_authorization";
}
upstream tutor {
    hash $tutor_client consistent;
%(servers)s
}
server {
    listen %(listen)s;
    location / {
        proxy_pass http://tutor;
        proxy_http_version 1.1;
        proxy_set_header Upgrade $http_upgrade;
        proxy_set_header Connection $connection_upgrade;
        proxy_set_header Host $http_host;  # with its port: the app checks page origins against it
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto $scheme;
        proxy_buffering off;          # answers stream token by token (SSE and Socket.IO)
        proxy_read_timeout 300s;      # a slow model's answer, or an idle WebSocket between questions
        proxy_next_upstream error timeout;  # a process that is down: the request goes to the next one
        add_header X-Upstream $upstream_addr always;  # which process answered (the test reads it)
    }
}
"""


def config(upstreams: list[str], listen: str) -> str:
    servers = "\n".join(f"    server {u} max_fails=1 fail_timeout=30s;" for u in upstreams)
    return CONFIG % {"visitor": VISITOR_COOKIE, "servers": servers, "listen": listen}


class Nginx:
    def __init__(self, upstreams: list[str]):
        binary = shutil.which("nginx") or "/usr/sbin/nginx"
        if not Path(binary).exists():
            raise Missing("nginx is not installed; `.ci/run` installs it (apt-get install nginx)")
        self.folder = Path(tempfile.mkdtemp(prefix="tutor-nginx-"))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        folder = self.folder
        main = f"""
user root;
worker_processes 1;
daemon off;
pid {folder}/nginx.pid;
error_log {folder}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log {folder}/access.log;
    client_body_temp_path {folder}/body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
{config(upstreams, f"127.0.0.1:{self.port}")}
}}
"""
        (folder / "nginx.conf").write_text(main)
        self.process = subprocess.Popen(
            [binary, "-p", str(folder), "-c", str(folder / "nginx.conf")],
            stdout=subprocess.DEVNULL,
            stderr=(folder / "stderr.log").open("w"),
        )
        if not wait_for_port(self.port, self.process):
            errors = "".join(log.read_text() for log in (folder / "stderr.log", folder / "error.log") if log.exists())
            self.stop()
            raise RuntimeError(f"nginx did not listen on port {self.port}: {errors}")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)
        shutil.rmtree(self.folder, ignore_errors=True)
