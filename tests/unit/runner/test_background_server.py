"""The local HTTP servers (the gateway before moto, the front door, the stand-ins) answer
on connections without Nagle's algorithm.

http.server writes an answer's headers and its body in two writes. With Nagle's
algorithm on, the body waits until the client acknowledges the headers, and Linux
delays that acknowledgement by 40 ms: every AWS call of the local pipeline through the
gateway, after the first few of a kept-alive connection, took 40 ms longer than moto's
answer (bench/cold_start.py's first requests counted them, six to fifteen per consumer).
"""

import http.client
import json
import socket
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

import pytest

from round0_testkit.background_server import BackgroundServer


class ReportsItsSocket(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        nodelay = self.connection.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        body = json.dumps({"nodelay": nodelay}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def server() -> Iterator[BackgroundServer]:
    background = BackgroundServer("the test server")
    background.start(ReportsItsSocket, poll_interval=0.05)
    yield background
    background.stop()


def test_every_answered_connection_has_nagle_off(server: BackgroundServer) -> None:
    host, port = server.url.removeprefix("http://").split(":")
    for _ in range(2):  # a fresh connection each time: each accepted socket is set
        connection = http.client.HTTPConnection(host, int(port), timeout=5)
        try:
            for _ in range(3):  # and it stays set on a kept-alive connection
                connection.request("GET", "/")
                answer = connection.getresponse()
                assert answer.status == 200
                assert json.loads(answer.read())["nodelay"] != 0
        finally:
            connection.close()
