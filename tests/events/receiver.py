"""A real HTTP receiver of outgoing webhooks, in the test process."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Receiver:
    """A ThreadingHTTPServer on 127.0.0.1; ``mode`` says how it answers.

    Modes: an integer status (200, 500, 410, 302), ``"hang"`` (answers after
    ``hang_seconds``), ``"drop"`` (closes the connection without answering).
    Every request answered is kept in ``requests`` as ``(headers, body)``,
    with its status in ``statuses`` and its time in ``arrived``; ``started`` counts requests read,
    ``most_at_once`` the most requests it held at one time.
    """

    def __init__(self, mode=200, hang_seconds=5.0):
        self.mode = mode
        self.hang_seconds = hang_seconds
        self.requests = []
        self.statuses = []
        self.arrived = []
        self.started = 0
        self.active = 0
        self.most_at_once = 0
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                with receiver.lock:
                    receiver.active += 1
                    receiver.most_at_once = max(receiver.most_at_once, receiver.active)
                try:
                    self.answer()
                finally:
                    with receiver.lock:
                        receiver.active -= 1

            def answer(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                mode = receiver.mode
                with receiver.lock:
                    receiver.started += 1
                if mode == "drop":
                    self.close_connection = True
                    self.connection.close()
                    return
                if mode == "hang":
                    time.sleep(receiver.hang_seconds)
                    mode = 200
                with receiver.lock:
                    receiver.requests.append((dict(self.headers), body))
                    receiver.statuses.append(mode)
                    receiver.arrived.append(time.time())
                self.send_response(mode)
                if mode == 302:
                    self.send_header("Location", "http://127.0.0.1:1/elsewhere")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def events(self):
        """Return the bodies received and answered, decoded, in order of arrival."""
        with self.lock:
            return [json.loads(body) for _, body in self.requests]

    def delivered(self):
        """Return the bodies answered with a 2xx, decoded, in order of arrival."""
        with self.lock:
            return [
                json.loads(body)
                for (_, body), status in zip(self.requests, self.statuses, strict=True)
                if 200 <= status < 300
            ]

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
