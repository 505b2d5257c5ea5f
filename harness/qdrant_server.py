"""A Qdrant stand-in server: Qdrant's REST API, for the calls `rag.store.cloud` makes, answered by qdrant-client's
own local mode (in memory). Qdrant has no server in the registries this project can reach; with this, several
app processes and the ingest share one collection over HTTP, the way they share Qdrant Cloud.

`python -m harness.qdrant_server --port N` runs it on its own (the load test does); tests start it in a thread.
"""

from __future__ import annotations

import argparse
import json
import re
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel
from qdrant_client import QdrantClient, models

from harness.fake_servers import LocalServer

Route = Callable[[str, dict[str, Any]], Any]


def _json(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", exclude_none=True)
    if isinstance(value, list | tuple):
        return [_json(v) for v in value]
    return value


class QdrantServer(LocalServer):
    def __init__(self) -> None:
        self.client = QdrantClient(location=":memory:")
        self._lock = threading.Lock()  # local mode is not thread-safe
        self.requests = 0
        self.created: dict[str, dict[str, Any]] = {}  # each created collection's request body
        c = r"/collections/(?P<c>[^/]+)"
        self._routes: list[tuple[str, re.Pattern[str], Route]] = [
            ("GET", re.compile(r"/collections"), lambda _, b: self.client.get_collections()),
            ("GET", re.compile(c + "/exists"), lambda n, b: {"exists": self.client.collection_exists(n)}),
            ("GET", re.compile(c), lambda n, b: self.client.get_collection(n)),
            ("PUT", re.compile(c), self._create),
            ("PATCH", re.compile(c), self._update),
            ("DELETE", re.compile(c), lambda n, b: self.client.delete_collection(n)),
            ("PUT", re.compile(c + "/index"), self._index),
            ("PUT", re.compile(c + "/points"), self._upsert),
            ("POST", re.compile(c + "/points/delete"), self._delete),
            ("POST", re.compile(c + "/points/query"), self._query),
            ("POST", re.compile(c + "/points/count"), self._count),
            ("POST", re.compile(c + "/points/scroll"), self._scroll),
            ("POST", re.compile(c + "/points"), self._retrieve),
        ]
        super().__init__(self._handle)

    def _create(self, name: str, body: dict[str, Any]) -> bool:
        spec = models.CreateCollection.model_validate(body)
        self.created[name] = body
        return self.client.create_collection(
            name,
            vectors_config=spec.vectors,
            sparse_vectors_config=spec.sparse_vectors,
            metadata=spec.metadata,
        )

    def _update(self, name: str, body: dict[str, Any]) -> bool:
        """The collection's metadata (the book's version), merged, as Qdrant does."""
        return self.client.update_collection(name, metadata=models.UpdateCollection.model_validate(body).metadata)

    def _index(self, name: str, body: dict[str, Any]) -> models.UpdateResult:
        index = models.CreateFieldIndex.model_validate(body)
        return self.client.create_payload_index(name, index.field_name, index.field_schema)

    def _upsert(self, name: str, body: dict[str, Any]) -> models.UpdateResult:
        points = models.PointsList.model_validate(body).points
        return self.client.upsert(name, points=points)

    def _delete(self, name: str, body: dict[str, Any]) -> models.UpdateResult:
        return self.client.delete(name, points_selector=models.FilterSelector.model_validate(body))

    def _query(self, name: str, body: dict[str, Any]) -> models.QueryResponse:
        q = models.QueryRequest.model_validate(body)
        return self.client.query_points(
            name,
            query=q.query,
            using=q.using,
            prefetch=q.prefetch,
            query_filter=q.filter,
            limit=q.limit or 10,
            with_payload=q.with_payload if q.with_payload is not None else False,
            with_vectors=q.with_vector if q.with_vector is not None else False,
        )

    def _count(self, name: str, body: dict[str, Any]) -> models.CountResult:
        return self.client.count(name, count_filter=models.CountRequest.model_validate(body).filter)

    def _scroll(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        s = models.ScrollRequest.model_validate(body)
        records, offset = self.client.scroll(
            name, scroll_filter=s.filter, limit=s.limit or 10, offset=s.offset, with_payload=s.with_payload or False
        )
        return {"points": _json(records), "next_page_offset": offset}

    def _retrieve(self, name: str, body: dict[str, Any]) -> list[models.Record]:
        r = models.PointRequest.model_validate(body)
        return self.client.retrieve(name, ids=r.ids, with_payload=r.with_payload or False)

    def _handle(self, method: str, handler: BaseHTTPRequestHandler) -> None:
        self.requests += 1
        length = int(handler.headers.get("Content-Length") or 0)
        body = json.loads(handler.rfile.read(length) or b"{}")
        path = urlsplit(handler.path).path
        for verb, pattern, route in self._routes:
            if verb == method and (m := pattern.fullmatch(path)):
                try:
                    with self._lock:
                        result = route(m.groupdict().get("c", ""), body)
                except ValueError as exc:  # local mode: "Collection x not found"
                    missing = "not found" in str(exc).lower()
                    error = f"Not found: Collection `{m.groupdict().get('c')}` doesn't exist!" if missing else str(exc)
                    self.send_json(handler, 404 if missing else 400, {"status": {"error": error}, "time": 0})
                    return
                except Exception as exc:  # answered like a server's internal error, never a hang
                    self.send_json(handler, 500, {"status": {"error": repr(exc)}, "time": 0})
                    return
                self.send_json(handler, 200, {"result": _json(result), "status": "ok", "time": 0})
                return
        self.send_json(handler, 404, {"status": {"error": f"no route {method} {path}"}, "time": 0})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port-file", help="write the URL here once listening")
    args = parser.parse_args()
    server = QdrantServer()
    if args.port_file:
        with open(args.port_file, "w") as out:
            out.write(server.url)
    print(server.url, flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
