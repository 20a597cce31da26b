"""A local server speaking the OpenAI Chat Completions wire protocol, scripted per test.

It answers `POST /v1/chat/completions` with what the test's script returns for each
request: a completion (as JSON, or as Server-Sent Events when the request asks for
`stream`), an HTTP error with headers (`429` + `Retry-After`), a silence, or a stream
cut off half way. It records every request and every connection the client closed
before a response was complete, so tests can prove retries, timeouts and cancellation
on the wire. Plain asyncio streams: HTTP/1.1 with keep-alive and chunked encoding.
"""

import asyncio
import contextlib
import itertools
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ChatRequest", "Reply", "ScriptedChatServer"]


@dataclass
class ChatRequest:
    body: dict[str, Any]
    headers: dict[str, str]
    at: float

    @property
    def prompt(self) -> str:
        return "\n".join(str(m.get("content", "")) for m in self.body.get("messages", []))

    @property
    def streamed(self) -> bool:
        return bool(self.body.get("stream"))


@dataclass
class Reply:
    text: str = ""
    status: int = 200
    error: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    """Seconds of silence before the response starts."""
    chunk_delay: float = 0.0
    """Seconds between streamed chunks."""
    cut_after: int | None = None
    """Close the connection after this many streamed content chunks (a dropped stream)."""
    usage: tuple[int, int] | None = None
    """(prompt, completion) tokens; by default the words of the prompt and of the text."""
    send_usage: bool = True
    finish_reason: str = "stop"

    @classmethod
    def failure(cls, status: int, message: str = "scripted failure", **headers: str) -> "Reply":
        return cls(status=status, error=message, headers=headers)


Script = Callable[[ChatRequest], Reply | Awaitable[Reply]]


class ScriptedChatServer:
    def __init__(self, model: str = "scripted-model") -> None:
        self.model = model
        self.script: Script = lambda request: Reply.failure(500, "no script set")
        self.requests: list[ChatRequest] = []
        self.disconnects: list[ChatRequest] = []
        """Requests whose connection the client closed before the response was complete."""
        self.completed: list[ChatRequest] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._server: asyncio.Server | None = None
        self._ids = itertools.count(1)
        self._connections: dict[asyncio.StreamWriter, asyncio.Task[Any]] = {}
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    async def start(self) -> "ScriptedChatServer":
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        # End idle keep-alive connections so their handlers return rather than being cancelled.
        for writer in list(self._connections):
            writer.transport.abort()
        if self._connections:
            await asyncio.wait(list(self._connections.values()), timeout=5)
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 5)

    def reset(self, script: Script) -> None:
        self.script = script
        self.requests.clear()
        self.disconnects.clear()
        self.completed.clear()
        self.max_in_flight = self.in_flight

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        carry = b""  # a byte of the next request, read while watching for the client leaving
        task = asyncio.current_task()
        assert task is not None
        self._connections[writer] = task
        try:
            while True:
                head = carry + await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                headers = {
                    k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:] if ln)
                }
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                if method != "POST" or not path.endswith("/chat/completions"):
                    await self._send_json(writer, 404, {"error": {"message": f"no route {path}"}}, {})
                    continue
                request = ChatRequest(json.loads(body), headers, time.monotonic())
                self.requests.append(request)
                self.in_flight += 1
                self.max_in_flight = max(self.max_in_flight, self.in_flight)
                try:
                    reply = self.script(request)
                    if not isinstance(reply, Reply):
                        reply = await reply
                    answered, carry = await self._respond(reader, writer, request, reply)
                finally:
                    self.in_flight -= 1
                if not answered:
                    self.disconnects.append(request)
                    return
                self.completed.append(request)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self._connections.pop(writer, None)
            writer.close()

    async def _respond(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: ChatRequest, reply: Reply
    ) -> tuple[bool, bytes]:
        """Send the reply; False when the client went away first (or the reply cuts it), and
        what the client sent meanwhile (the start of its next request)."""
        client_gone = asyncio.ensure_future(reader.read(1))  # EOF (b"") when the client closes
        answered = False
        try:
            answered = await self._send(writer, request, reply, client_gone)
        finally:
            client_gone.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await client_gone
        return answered, (b"" if client_gone.cancelled() else client_gone.result())

    async def _send(
        self,
        writer: asyncio.StreamWriter,
        request: ChatRequest,
        reply: Reply,
        client_gone: "asyncio.Future[bytes]",
    ) -> bool:
        if reply.delay and await _wait_gone(client_gone, reply.delay):
            return False
        if reply.status != 200:
            err = {"error": {"message": reply.error, "type": "scripted", "code": str(reply.status)}}
            await self._send_json(writer, reply.status, err, reply.headers)
            return True
        usage = reply.usage or (len(request.prompt.split()), len(reply.text.split()))
        if not request.streamed:
            await self._send_json(writer, 200, self._completion(reply, usage), reply.headers)
            return True
        return await self._stream(writer, request, reply, usage, client_gone)

    async def _stream(
        self,
        writer: asyncio.StreamWriter,
        request: ChatRequest,
        reply: Reply,
        usage: tuple[int, int],
        client_gone: "asyncio.Future[bytes]",
    ) -> bool:
        head = (
            "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n"
            + "".join(f"{k}: {v}\r\n" for k, v in reply.headers.items())
            + "\r\n"
        )
        writer.write(head.encode())
        chunk_id = f"chatcmpl-{next(self._ids)}"
        pieces = [w + " " for w in reply.text.split(" ")] if reply.text else []
        if pieces:
            pieces[-1] = pieces[-1][:-1]
        events: list[dict[str, Any]] = [self._chunk(chunk_id, {"role": "assistant", "content": ""}, None)]
        events += [self._chunk(chunk_id, {"content": p}, None) for p in pieces]
        events.append(self._chunk(chunk_id, {}, reply.finish_reason))
        include_usage = (request.body.get("stream_options") or {}).get("include_usage")
        if include_usage and reply.send_usage:
            events.append({**self._chunk(chunk_id, {}, None), "choices": [], "usage": _usage(usage)})
        for number, event in enumerate(events):
            if reply.cut_after is not None and number > reply.cut_after:
                writer.transport.abort()
                return False
            await _write_chunk(writer, f"data: {json.dumps(event)}\n\n".encode())
            if reply.chunk_delay and await _wait_gone(client_gone, reply.chunk_delay):
                return False
            if _gone(client_gone):
                return False
        await _write_chunk(writer, b"data: [DONE]\n\n")
        await _write_chunk(writer, b"")
        return True

    def _chunk(self, chunk_id: str, delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
        return {
            "id": chunk_id,
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": self.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
        }

    def _completion(self, reply: Reply, usage: tuple[int, int]) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": f"chatcmpl-{next(self._ids)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": self.model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": reply.text},
                    "finish_reason": reply.finish_reason,
                    "logprobs": None,
                }
            ],
        }
        if reply.send_usage:
            body["usage"] = _usage(usage)
        return body

    @staticmethod
    async def _send_json(
        writer: asyncio.StreamWriter, status: int, body: dict[str, Any], headers: dict[str, str]
    ) -> None:
        payload = json.dumps(body).encode()
        head = (
            f"HTTP/1.1 {status} Scripted\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\n"
            + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
            + "\r\n"
        )
        writer.write(head.encode() + payload)
        await writer.drain()


def _usage(usage: tuple[int, int]) -> dict[str, int]:
    return {"prompt_tokens": usage[0], "completion_tokens": usage[1], "total_tokens": sum(usage)}


async def _write_chunk(writer: asyncio.StreamWriter, data: bytes) -> None:
    writer.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
    await writer.drain()


async def _wait_gone(client_gone: "asyncio.Future[bytes]", seconds: float) -> bool:
    """Wait up to `seconds`; True as soon as the client closes its side."""
    await asyncio.wait({client_gone}, timeout=seconds)
    return _gone(client_gone)


def _gone(client_gone: "asyncio.Future[bytes]") -> bool:
    return client_gone.done() and not client_gone.cancelled() and client_gone.result() == b""
