"""A small TCP forwarder in a thread: a server's port elsewhere, which a test can cut.

Tests use it to take a dependency away from the processes they start (a
database that stops answering) without touching the real server, and to let
network namespaces reach servers that listen on 127.0.0.1 only.
"""

import contextlib
import socket
import threading


class Forwarder:
    """Accept on ``listen_host``:``port`` and pipe each connection to ``target``.

    ``cut()`` closes every open connection and refuses new ones until
    ``restore()``, as a server that went down and came back would.
    """

    def __init__(self, target, *, listen_host="127.0.0.1", port=0):
        self.target = target
        self.server = socket.create_server((listen_host, port), reuse_port=False)
        self.port = self.server.getsockname()[1]
        self.host = listen_host
        self.open = threading.Event()
        self.open.set()
        self._lock = threading.Lock()
        self._sockets = set()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self):
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            if not self.open.is_set():
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._sockets.update((client, upstream))
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(
                    target=self._pipe, args=(source, sink), daemon=True
                ).start()

    def _pipe(self, source, sink):
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                self._close(sock)

    def _close(self, sock):
        with self._lock:
            self._sockets.discard(sock)
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        sock.close()

    def cut(self):
        """Close every forwarded connection and refuse new ones."""
        self.open.clear()
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            self._close(sock)

    def restore(self):
        """Forward new connections again."""
        self.open.set()

    def close(self):
        self.cut()
        self.server.close()
