"""A TCP proxy in front of the moto server that a test can take down, or hang, and bring back.

Endpoint failures are tested with real sockets, as clients meet them:

- "up": every connection is forwarded to the target;
- "down": the port refuses connections, and open ones are cut (a crashed or restarting endpoint);
- "hung": connections are accepted and never answered (a stuck proxy or load balancer).

The moto server behind keeps its state through it all, so a run started before an outage is
still there after it.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from typing import Literal

from .moto_server import free_port

Mode = Literal["up", "down", "hung"]


class TcpProxy:
    """Forward 127.0.0.1:<port> to `target_port` on 127.0.0.1, in the mode a test sets."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self.mode: Mode = "down"
        self._listener: socket.socket | None = None
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- modes ------------------------------------------------------------------------------

    def up(self) -> TcpProxy:
        self._set("up")
        return self

    def hang(self) -> TcpProxy:
        self._set("hung")
        return self

    def down(self) -> TcpProxy:
        """Refuse new connections and cut the open ones."""
        with self._lock:
            self.mode = "down"
            listener, self._listener = self._listener, None
            open_sockets, self._open = self._open, set()
        for sock in [*([listener] if listener else []), *open_sockets]:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        return self

    def close(self) -> None:
        self.down()

    def __enter__(self) -> TcpProxy:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _set(self, mode: Mode) -> None:
        if self.mode != "down":
            self.down()
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        with self._lock:
            self.mode = mode
            self._listener = listener
        self._thread = threading.Thread(target=self._accept, args=(listener,), daemon=True)
        self._thread.start()

    # -- plumbing ---------------------------------------------------------------------------

    def _track(self, sock: socket.socket) -> bool:
        with self._lock:
            if self._listener is None:
                return False
            self._open.add(sock)
            return True

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # closed by down()
            if not self._track(client):
                client.close()
                return
            if self.mode == "hung":
                threading.Thread(target=self._swallow, args=(client,), daemon=True).start()
                continue
            try:
                server = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            if not self._track(server):
                server.close()
                client.close()
                return
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _swallow(client: socket.socket) -> None:
        """Read whatever comes and never answer."""
        with contextlib.suppress(OSError):
            while client.recv(65536):
                pass

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        except OSError:
            pass
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
