"""The multi-process deployment of docs/deployment.md on loopback, everything started here: app processes
behind Debian's nginx, one PostgreSQL 15, Debian's Redis, and one Qdrant over HTTP (the project's stand-in
server, on the Qdrant Cloud code path). The deployment test and the load benchmark both run it."""

from __future__ import annotations

import secrets
from pathlib import Path

from harness.app import SAMPLE_DOCS, App, ingest_sample
from harness.nginx import Nginx
from harness.postgres import Postgres
from harness.qdrant_server import QdrantServer
from harness.redis import Redis


class Deployment:
    def __init__(self, folder: Path, processes: int = 2, source: Path = SAMPLE_DOCS, **env: str):
        """`processes` app processes sharing one secret and the services; `env` adds to their settings."""
        self.postgres, self.redis, self.qdrant = Postgres(), Redis(), QdrantServer()
        self.apps: list[App] = []
        self.nginx: Nginx | None = None
        try:
            ingest_sample(None, source, QDRANT_CLUSTER_ENDPOINT=self.qdrant.url)
            self.settings = {
                "QDRANT_CLUSTER_ENDPOINT": self.qdrant.url,
                "DATABASE_URL": self.postgres.url,
                "REDIS_URL": self.redis.url,
                "CHAINLIT_AUTH_SECRET": secrets.token_urlsafe(40),  # the one every process shares
                **env,
            }
            for n in range(processes):
                data = folder / f"app-{n}"  # nothing shared on disk
                data.mkdir(parents=True, exist_ok=True)
                self.apps.append(App(data, **self.settings))
            self.nginx = Nginx([f"127.0.0.1:{app.port}" for app in self.apps])
        except BaseException:
            self.stop()
            raise

    @property
    def url(self) -> str:
        assert self.nginx is not None
        return self.nginx.url

    def stop(self) -> None:
        if self.nginx is not None:
            self.nginx.stop()
        for app in self.apps:
            if app.process.poll() is None:
                app.stop()
        self.qdrant.close()
        self.redis.stop()
        self.postgres.stop()
