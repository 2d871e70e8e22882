"""The live page: the standard library's HTTP server on localhost, one ``Explorer`` behind it.

``GET /`` is the page (with its first input's trace), ``GET /plotly.min.js`` Plotly's bundle, and
``GET /run?input=TOKENS`` one input's trace as JSON, computed by the model's Python forward pass. A refused
input is an answer too (``{"input": ..., "error": ...}``, status 200), so the page shows apply's message.
"""

from __future__ import annotations

import http.server
import json
import threading
import urllib.parse
from collections.abc import Sequence
from typing import Any

from optracr.errors import CompileError
from optracr.explore import page
from optracr.explore import session

HOST = "127.0.0.1"  # never another interface: the page runs code on the machine that serves it


class ExploreServer(http.server.ThreadingHTTPServer):
    """An HTTP server on ``127.0.0.1:port`` (0: any free port) serving one explorer's page."""

    daemon_threads = True

    def __init__(self, explorer: session.Explorer, inputs: Sequence[str], *, port: int = 0) -> None:
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
            raise CompileError(None, f"port must be an integer from 0 (any free port) to 65535, got {port!r}")
        self.explorer = explorer
        html = page.render(explorer.page_data(inputs, mode="server"), inline_plotly=False)
        self.page_bytes = html.encode()
        self.plotly_bytes = page.plotly_js().encode()
        try:
            super().__init__((HOST, port), _Handler)
        except OSError as error:
            raise CompileError(None, f"cannot listen on {HOST}:{port} ({error.strerror}); choose another --port, "
                               "or 0 for any free port") from None

    @property
    def url(self) -> str:
        """The page's address."""
        return f"http://{HOST}:{self.server_address[1]}/"

    def start_in_background(self) -> threading.Thread:
        """Serves on a daemon thread (for notebooks and tests); ``shutdown()`` stops it."""
        thread = threading.Thread(target=self.serve_forever, name="optracr-explore", daemon=True)
        thread.start()
        return thread


class _Handler(http.server.BaseHTTPRequestHandler):
    server: ExploreServer

    def do_GET(self) -> None:  # noqa: N802 - the standard library's name
        url = urllib.parse.urlsplit(self.path)
        if url.path == "/":
            self._send(200, "text/html; charset=utf-8", self.server.page_bytes)
        elif url.path == "/" + page.PLOTLY_PATH:
            self._send(200, "text/javascript; charset=utf-8", self.server.plotly_bytes, cache=True)
        elif url.path == "/run":
            text = urllib.parse.parse_qs(url.query).get("input", [""])[0]
            try:
                trace = self.server.explorer.run(text)
            except Exception as error:  # noqa: BLE001 - the page shows it; the server keeps serving
                trace = {"input": text, "error": f"optracr bug: computing this input raised {type(error).__name__}: "
                         f"{error}; please report it with the program and the input"}
            self._send_json(trace)
        else:
            self._send(404, "text/plain; charset=utf-8", b"not found: the page is at /")

    def _send_json(self, body: dict[str, Any]) -> None:
        self._send(200, "application/json", json.dumps(body, separators=(",", ":")).encode())

    def _send(self, status: int, content_type: str, body: bytes, *, cache: bool = False) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "max-age=3600" if cache else "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the standard library's signature
        """Quiet: the command prints the address once; requests are not logged."""
