"""Local HTTP servers that answer like the paid remote services, errors included: the OpenAI / Gemini Chat
Completions API, and a failing Qdrant Cloud. Both run on a free loopback port in a thread of the test process."""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that stops reading (after the first token, or on its own timeout) is not an error."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class LocalServer:
    """Serves `handle(method, handler)` on a free loopback port until `close()`."""

    def __init__(self, handle: Callable[[str, BaseHTTPRequestHandler], None]):
        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                # Each streamed chunk leaves at once, as from a real server (no 40 ms wait for a delayed ACK).
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def do_GET(self) -> None:
                handle("GET", self)

            def do_POST(self) -> None:
                handle("POST", self)

            def do_PUT(self) -> None:
                handle("PUT", self)

            def do_DELETE(self) -> None:
                handle("DELETE", self)

            def do_PATCH(self) -> None:
                handle("PATCH", self)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = _QuietServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @staticmethod
    def send_json(handler: BaseHTTPRequestHandler, status: int, payload: dict, **headers: str) -> None:
        data = json.dumps(payload).encode()
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(data)))
            for name, value in headers.items():
                handler.send_header(name.replace("_", "-"), value)
            handler.end_headers()
            handler.wfile.write(data)
        except OSError:
            pass  # the client gave up waiting

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class FakeOpenAI(LocalServer):
    """`script` is a list of behaviours, one per request (the last one repeats): an int status code,
    "hang", or a string to stream back as the answer in a few chunks. `hang_models`: GET /models hangs too
    (a server that accepts connections but never answers)."""

    def __init__(
        self,
        script: list,
        model: str = "fake-model",
        hang_models: bool = False,
        paused: threading.Event | None = None,
    ):
        """`paused`: a streamed answer stops after its first three words until the event is set (a test acts on
        the app while an answer is under way)."""
        self.script, self.model, self.hang_models, self.paused = list(script), model, hang_models, paused
        self.requests: list[dict] = []
        super().__init__(self._handle)
        self.base_url = f"{self.url}/v1"

    def _handle(self, method: str, handler: BaseHTTPRequestHandler) -> None:
        if method == "GET":
            if self.hang_models:
                time.sleep(30)
                return
            self.send_json(handler, 200, {"object": "list", "data": [{"id": self.model, "object": "model"}]})
            return
        body = json.loads(handler.rfile.read(int(handler.headers.get("Content-Length", 0))) or b"{}")
        self.requests.append(body)
        step = self.script[min(len(self.requests), len(self.script)) - 1]
        if step == "hang":
            time.sleep(30)
        elif isinstance(step, int):
            error = {"error": {"message": f"simulated {step}", "type": "error", "code": str(step)}}
            self.send_json(handler, step, error, **({"retry_after_ms": "50"} if step == 429 else {}))
        else:
            self._stream(handler, step)

    def _stream(self, handler: BaseHTTPRequestHandler, text: str) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "text/event-stream")
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        words = text.split(" ")
        pieces = [w + (" " if i < len(words) - 1 else "") for i, w in enumerate(words)]
        chunks: list[dict | None] = [{"role": "assistant", "content": ""}, *({"content": p} for p in pieces), None]
        for i, delta in enumerate(chunks):
            if i == 4 and self.paused is not None:  # after the role and three words
                self.paused.wait(60)
            choice = {"index": 0, "delta": delta or {}, "finish_reason": None if delta else "stop"}
            event = {
                "id": "chatcmpl-1",
                "object": "chat.completion.chunk",
                "created": 0,
                "model": self.model,
                "choices": [choice],
            }
            self._chunk(handler, f"data: {json.dumps(event)}\n\n")
        self._chunk(handler, "data: [DONE]\n\n")
        self._chunk(handler, "")

    @staticmethod
    def _chunk(handler: BaseHTTPRequestHandler, text: str) -> None:
        data = text.encode()
        handler.wfile.write(f"{len(data):X}\r\n".encode() + data + b"\r\n")
        handler.wfile.flush()


class FakeQdrant(LocalServer):
    """Answers every request with `status` and Qdrant's error body (or hangs for `hang` seconds), and counts
    the requests."""

    def __init__(self, status: int = 200, hang: float = 0.0, error: str = "simulated"):
        self.status, self.hang, self.error, self.requests = status, hang, error, 0
        super().__init__(self._handle)

    def _handle(self, method: str, handler: BaseHTTPRequestHandler) -> None:
        self.requests += 1
        if self.hang:
            time.sleep(self.hang)
        self.send_json(handler, self.status, {"status": {"error": self.error}, "time": 0})
