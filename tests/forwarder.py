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
    ``cut_on_next_send()`` does it the moment a client next sends something,
    after passing it on and before anything comes back: a connection lost
    during a publish, whose fate the client cannot know.
    """

    def __init__(self, target, *, listen_host="127.0.0.1", port=0):
        self.target = target
        self.server = socket.create_server((listen_host, port), reuse_port=False)
        self.port = self.server.getsockname()[1]
        self.host = listen_host
        self.open = threading.Event()
        self.open.set()
        self.armed = threading.Event()
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
            for source, sink, outbound in (
                (client, upstream, True),
                (upstream, client, False),
            ):
                threading.Thread(
                    target=self._pipe, args=(source, sink, outbound), daemon=True
                ).start()

    def _pipe(self, source, sink, outbound):
        try:
            while data := source.recv(65536):
                if self.armed.is_set():
                    if not outbound:
                        continue  # nothing comes back once armed
                    # What the client sends reaches the server, then the
                    # connections are cut.
                    sink.sendall(data)
                    self.cut()
                    self.armed.clear()
                    return
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

    def cut_on_next_send(self):
        """Cut every connection, and refuse new ones, once a client next sends."""
        self.armed.set()

    def restore(self):
        """Forward new connections again."""
        self.open.set()

    def close(self):
        self.cut()
        self.server.close()
