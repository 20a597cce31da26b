"""A local server speaking the OpenAI `/v1/embeddings` wire protocol, scripted per test.

The embedders are synchronous, so this server runs in a thread of the test process
(`http.server`, HTTP/1.1 keep-alive) on 127.0.0.1. By default it answers every request with
one vector per input: a hashed bag of words (`bag_of_words`), so texts sharing words score
higher and a test can tell which vector belongs to which text. A script can instead return an
HTTP error with headers, a delay, a body that is not JSON, or any answer body at all. Every
request is recorded with its headers.
"""

import contextlib
import hashlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["EmbeddingRequest", "Reply", "ScriptedEmbeddingServer", "bag_of_words"]


def bag_of_words(text: str, dim: int) -> list[float]:
    vector = [0.0] * dim
    for word in text.lower().split():
        vector[int(hashlib.sha256(word.encode()).hexdigest(), 16) % dim] += 1.0
    return vector


@dataclass
class EmbeddingRequest:
    body: dict[str, Any]
    headers: dict[str, str]

    @property
    def inputs(self) -> list[str]:
        value = self.body.get("input", [])
        return [value] if isinstance(value, str) else list(value)


@dataclass
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    """The JSON answer; None: the default answer (one bag-of-words vector per input)."""
    raw: bytes | None = None
    """Sent as the body instead of JSON (a broken server)."""
    delay: float = 0.0

    @classmethod
    def failure(cls, status: int, **headers: str) -> "Reply":
        return cls(status=status, headers=headers, body={"error": {"message": "scripted failure"}})


Script = Callable[[EmbeddingRequest], Reply]


class ScriptedEmbeddingServer:
    def __init__(self, dim: int = 16, model: str = "scripted-embedder") -> None:
        self.dim = dim
        self.model = model
        self.script: Script = lambda request: Reply()
        self.requests: list[EmbeddingRequest] = []
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._http.daemon_threads = True
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self._http.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> "ScriptedEmbeddingServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._http.shutdown()
        self._http.server_close()
        self._thread.join(5)

    def reset(self) -> None:
        """Back to the default answers, no request recorded."""
        self.script = lambda request: Reply()
        self.requests.clear()

    def answer(self, request: EmbeddingRequest) -> dict[str, Any]:
        """The well-formed answer to `request`, in reverse index order (allowed by the protocol)."""
        data = [
            {"object": "embedding", "index": i, "embedding": bag_of_words(text, self.dim)}
            for i, text in enumerate(request.inputs)
        ]
        words = sum(len(text.split()) for text in request.inputs)
        return {
            "object": "list",
            "model": self.model,
            "data": data[::-1],
            "usage": {"prompt_tokens": words, "total_tokens": words},
        }

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                if not self.path.endswith("/embeddings"):
                    self._send(404, {}, json.dumps({"error": {"message": "no route"}}).encode())
                    return
                request = EmbeddingRequest(json.loads(body), {k.lower(): v for k, v in self.headers.items()})
                server.requests.append(request)
                reply = server.script(request)
                if reply.delay:
                    time.sleep(reply.delay)
                payload = reply.raw
                if payload is None:
                    answer = server.answer(request) if reply.body is None else reply.body
                    payload = json.dumps(answer).encode()
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client gave up
                    self._send(reply.status, reply.headers, payload)

            def _send(self, status: int, headers: dict[str, str], payload: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

        return Handler
