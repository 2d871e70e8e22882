"""The live page's server: localhost only, the page, Plotly, and one input's trace per request."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request

import pytest

from optracr import explore
from optracr.errors import CompileError
from optracr.explore import page


@pytest.fixture(name="sort_server")
def sort_server_fixture(library_model):
    program, model = library_model("sort")
    server = explore.serve(model, program=program, inputs=["3 1 2"], title="sort")
    server.start_in_background()
    yield server, explore.Explorer(model, program, "sort")
    server.shutdown()
    server.server_close()


def _get(url: str) -> tuple[int, str, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.headers["Content-Type"], response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read()


def test_it_listens_on_localhost_only(sort_server) -> None:
    server, _ = sort_server
    assert server.server_address[0] == "127.0.0.1" and server.url.startswith("http://127.0.0.1:")


def test_the_page_and_plotly_are_served(sort_server) -> None:
    server, _ = sort_server
    status, kind, body = _get(server.url)
    assert (status, kind) == (200, "text/html; charset=utf-8") and b'<script src="plotly.min.js" defer>' in body
    status, kind, body = _get(server.url + page.PLOTLY_PATH)
    assert (status, kind) == (200, "text/javascript; charset=utf-8") and body == page.plotly_js().encode()


@pytest.mark.parametrize("text", ["4 4 1", "2 9", ""])
def test_run_answers_with_the_explorers_trace(sort_server, text: str) -> None:
    server, explorer = sort_server
    status, kind, body = _get(server.url + "run?" + urllib.parse.urlencode({"input": text}))
    assert (status, kind) == (200, "application/json") and json.loads(body) == explorer.run(text)


def test_an_unknown_path_is_not_found(sort_server) -> None:
    server, _ = sort_server
    assert _get(server.url + "etc/passwd")[:2] == (404, "text/plain; charset=utf-8")


@pytest.mark.parametrize("port", [-1, 70000, True, "80"])
def test_a_bad_port_is_refused(library_model, port) -> None:
    program, model = library_model("sort")
    with pytest.raises(CompileError, match="port must be an integer from 0 \\(any free port\\) to 65535"):
        explore.serve(model, program=program, port=port)


def test_a_taken_port_says_to_choose_another(sort_server, library_model) -> None:
    server, _ = sort_server
    program, model = library_model("sort")
    with pytest.raises(CompileError, match=f"cannot listen on 127.0.0.1:{server.server_address[1]} .*choose another"):
        explore.serve(model, program=program, port=server.server_address[1])


def test_an_unexpected_failure_is_answered_as_an_error_and_the_server_goes_on(sort_server, monkeypatch) -> None:
    server, explorer = sort_server

    def broken(text: str) -> dict:
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(server, "explorer", type("Broken", (), {"run": staticmethod(broken)})())
    status, _, body = _get(server.url + "run?input=1")
    assert status == 200 and json.loads(body) == {"input": "1", "error": "optracr bug: computing this input raised "
                                                  "ZeroDivisionError: division by zero; please report it with the "
                                                  "program and the input"}
    monkeypatch.setattr(server, "explorer", explorer)
    assert json.loads(_get(server.url + "run?input=2+1")[2]) == explorer.run("2 1")
