"""A tiny HTTP server on 127.0.0.1 answering fixed bodies by path (query string included,
percent-decoded).

For recorded upstream answers (catalogue APIs, RDAP...): ``serving_routes({"/a?b=1": (200,
"application/json", b"{}")})`` yields the server, whose ``url`` is its base URL and whose
``requests`` lists the paths asked for (``request_headers``, their headers). Other paths are a 404.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        path = unquote(self.path)
        self.server.requests.append(path)
        self.server.request_headers.append(dict(self.headers))
        status, content_type, body = self.server.routes.get(
            path, (404, "text/plain", b"not found"))
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@contextmanager
def serving_routes(routes: dict[str, tuple[int, str, bytes]]):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    server.routes = routes
    server.requests = []
    server.request_headers = []
    server.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
