"""A local S3 endpoint that counts the requests it serves, for the "s3" case.

    python benchmarks/s3_counting.py PORT      # serves until SIGTERM

It is moto's S3 server (the one ``backends/s3_local.py`` runs) wrapped in a
WSGI layer that counts requests by HTTP method, so every peer's requests are
counted the same way, at the server, whatever client library it uses
(s3fs, TensorStore's own HTTP client...).  ``GET /__counts__`` returns the
counts as JSON, ``DELETE /__counts__`` resets them; neither is counted.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
if ROOT not in sys.path:
    sys.path.insert(1, ROOT)

from backends.s3_local import HOST, LocalS3  # noqa: E402

COUNTS_PATH = "/__counts__"


def counting(app):
    counts, lock = Counter(), threading.Lock()

    def wrapped(environ, start_response):
        if environ.get("PATH_INFO") == COUNTS_PATH:
            with lock:
                if environ["REQUEST_METHOD"] == "DELETE":
                    counts.clear()
                body = json.dumps(dict(counts)).encode()
            start_response("200 OK", [("Content-Type", "application/json"),
                                      ("Content-Length", str(len(body)))])
            return [body]
        with lock:
            counts[environ["REQUEST_METHOD"]] += 1
        return app(environ, start_response)

    return wrapped


class CountingS3(LocalS3):
    """:class:`backends.s3_local.LocalS3` with request counts kept by the server."""

    def start(self, timeout: float = 30.0) -> "CountingS3":
        self.process = subprocess.Popen([sys.executable, __file__, str(self.port)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"S3 server exited with code {self.process.returncode}")
            try:
                self.counts()
                return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"S3 server did not answer on {self.endpoint_url} within {timeout} s")

    def _counts(self, method: str) -> dict:
        request = urllib.request.Request(self.endpoint_url + COUNTS_PATH, method=method)
        with urllib.request.urlopen(request, timeout=5) as response:
            return json.loads(response.read())

    def counts(self) -> dict:
        """Requests served since the last reset, by HTTP method."""
        return self._counts("GET")

    def reset_counts(self) -> None:
        self._counts("DELETE")


def main(port: int) -> None:
    import signal

    from moto.moto_server.werkzeug_app import (DomainDispatcherApplication,
                                               MotoRequestHandler, create_backend_app)
    from werkzeug.serving import make_server

    app = counting(DomainDispatcherApplication(create_backend_app))
    server = make_server(HOST, port, app, threaded=True, request_handler=MotoRequestHandler)
    signal.signal(signal.SIGTERM, lambda *a: threading.Thread(target=server.shutdown).start())
    server.serve_forever()


if __name__ == "__main__":
    main(int(sys.argv[1]))
