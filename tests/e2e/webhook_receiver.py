"""A real local HTTP receiver for webhook tests: records every request, fails on demand."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from pipeline import ports


@dataclass
class Received:
    """One request as the receiver saw it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float
    checked: Any = None
    """What ``Receiver.check[path]`` returned while this request waited for its answer."""

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """``http://127.0.0.1:<port>/<anything>``; ``fail[path] = n`` answers 500 to the first n requests.

    A path in ``hang`` gets no answer for 5 s, one in ``hold`` none until its event is set (30 s at
    most); ``check[path]`` is called before answering.
    """

    port: int
    requests: list[Received] = field(default_factory=list)
    fail: dict[str, int] = field(default_factory=dict)
    hang: set[str] = field(default_factory=set)
    hold: dict[str, threading.Event] = field(default_factory=dict)
    check: dict[str, Callable[[], Any]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def on(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.requests if r.path == path]

    def wait(self, path: str, count: int = 1, within: float = 15.0) -> list[Received]:
        deadline = time.monotonic() + within
        while len(found := self.on(path)) < count:
            assert time.monotonic() < deadline, f"{path} got {len(found)} of {count} requests"
            time.sleep(0.02)
        return found


def serve() -> tuple[Receiver, ThreadingHTTPServer]:
    """Start a receiver in a thread; shut the server down when done."""
    receiver = Receiver(ports.free_port())

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as a real webhook endpoint would

        def _any(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            check = receiver.check.get(self.path)
            checked = check() if check is not None else None
            with receiver.lock:
                receiver.requests.append(
                    Received(self.command, self.path, dict(self.headers.items()), body, time.time(), checked)
                )
                failing = receiver.fail.get(self.path, 0)
                if failing:
                    receiver.fail[self.path] = failing - 1
                hanging = self.path in receiver.hang
                gate = receiver.hold.get(self.path)
            if hanging:
                time.sleep(5)
            if gate is not None:
                gate.wait(30)
            self.send_response(500 if failing else 200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_POST = do_PUT = do_GET = do_PATCH = do_DELETE = _any

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", receiver.port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return receiver, server
