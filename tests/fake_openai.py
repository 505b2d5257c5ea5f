"""A local HTTP server that answers like the OpenAI / Gemini Chat Completions API, errors included."""

from __future__ import annotations

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address) -> None:
        """A client that stops reading after the first token is not an error."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class FakeOpenAI:
    """`script` is a list of behaviours, one per request (the last one repeats): an int status code,
    "hang", or a string to stream back as the answer in a few chunks. `hang_models`: GET /models hangs too
    (a server that accepts connections but never answers)."""

    def __init__(self, script: list, model: str = "fake-model", hang_models: bool = False):
        self.script, self.model = list(script), model
        self.requests: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                if hang_models:
                    time.sleep(30)
                    return
                outer._json(self, 200, {"object": "list", "data": [{"id": outer.model, "object": "model"}]})

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                outer.requests.append(body)
                step = outer.script[min(len(outer.requests), len(outer.script)) - 1]
                if step == "hang":
                    time.sleep(30)
                elif isinstance(step, int):
                    outer._json(
                        self, step, {"error": {"message": f"simulated {step}", "type": "error", "code": str(step)}}
                    )
                else:
                    outer._stream(self, step)

            def log_message(self, *args):
                pass

        self.server = _QuietServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @staticmethod
    def _json(handler, status: int, payload: dict) -> None:
        data = json.dumps(payload).encode()
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(data)))
            if status == 429:
                handler.send_header("retry-after-ms", "50")
            handler.end_headers()
            handler.wfile.write(data)
        except OSError:
            pass

    def _stream(self, handler, text: str) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "text/event-stream")
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        words = text.split(" ")
        pieces = [w + (" " if i < len(words) - 1 else "") for i, w in enumerate(words)]
        chunks = [{"role": "assistant", "content": ""}] + [{"content": p} for p in pieces]
        for delta in chunks + [None]:
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
    def _chunk(handler, text: str) -> None:
        data = text.encode()
        handler.wfile.write(f"{len(data):X}\r\n".encode() + data + b"\r\n")
        handler.wfile.flush()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
