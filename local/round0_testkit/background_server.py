"""An HTTP server on 127.0.0.1 serving from a daemon thread: the stand-ins', and the
local runner's (its gateway and front door), started, stopped and addressed one way."""

from __future__ import annotations

import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class QuietServer(ThreadingHTTPServer):
    """A threaded HTTP server on which a client that leaves is not an error, answering
    without Nagle's algorithm (TCP_NODELAY), as real servers do."""

    daemon_threads = True

    def get_request(self) -> tuple[socket.socket, Any]:
        connection, address = super().get_request()
        # http.server writes an answer's headers and its body apart (and a stand-in its
        # body in pieces): with Nagle's algorithm the second write waits for the client's
        # delayed ACK of the first, 40 ms on Linux, on a kept-alive connection
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return connection, address

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that left (a reset, a broken pipe) is no error of the server's."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class BackgroundServer:
    """One `QuietServer` at a time (or a subclass's), served by a daemon thread."""

    def __init__(self, name: str) -> None:
        self._name = name  # for the error when it is not running
        self.server: QuietServer | None = None
        self._thread: threading.Thread | None = None

    def start(
        self,
        handler: type[BaseHTTPRequestHandler],
        port: int = 0,
        poll_interval: float = 0.5,
        server_class: type[QuietServer] = QuietServer,
    ) -> QuietServer:
        server = server_class(("127.0.0.1", port), handler)
        self.server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": poll_interval}, daemon=True
        )
        self._thread.start()
        return server

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    @property
    def url(self) -> str:
        if self.server is None:
            raise RuntimeError(f"{self._name} is not running")
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"
