"""The one HTTP reader of the probes (:mod:`exporters.probes.http`), through its two users: the
GETs of :class:`Fetcher` and the shop's API calls of :class:`ShopSession`, against a real server."""

from __future__ import annotations

import time

import pytest
from werkzeug.wrappers import Response

from exporters.probe import ProbeError
from exporters.probes.fetcher import Fetcher
from exporters.probes.http import MAX_BODY_BYTES, ProbeTimeout
from exporters.probes.shop_http import ShopSession
from tests.support.alertmanager import serving as serving_app
from tests.support.processes import free_port


def dripping(environ, start_response):
    """``/bytes/N``: N bytes; ``/drip``: ten bytes, one every 0.2 s; ``/moved``: a redirect."""
    path = environ["PATH_INFO"]
    if path.startswith("/bytes/"):
        response = Response(b"x" * int(path.rsplit("/", 1)[1]))
    elif path == "/drip":
        response = Response(time.sleep(0.2) or b"x" for _ in range(10))
    else:
        response = Response("", 302, headers={"Location": "/bytes/10"})
    return response(environ, start_response)


@pytest.fixture(scope="module")
def server() -> str:
    with serving_app(dripping, free_port()) as url:
        yield url


def test_a_get_keeps_the_first_max_bytes_of_a_larger_body_and_says_so(server):
    with Fetcher(timeout=5, max_bytes=100) as fetcher:
        cut, whole = fetcher.get(f"{server}/bytes/150"), fetcher.get(f"{server}/bytes/99")
    assert (len(cut.body), cut.truncated) == (100, True)
    assert (len(whole.body), whole.truncated) == (99, False)


def test_a_get_follows_a_redirect_to_the_final_url(server):
    with Fetcher(timeout=5) as fetcher:
        answer = fetcher.get(f"{server}/moved")
    assert (answer.url, answer.status, answer.body) == (f"{server}/bytes/10", 200, b"x" * 10)


def test_a_get_answering_slower_than_its_deadline_is_a_timeout_naming_it(server):
    with Fetcher(timeout=0.5) as fetcher, pytest.raises(ProbeTimeout) as raised:
        fetcher.get(f"{server}/drip")
    assert str(raised.value) == f"GET {server}/drip: no complete answer within the 0.5s timeout"


def test_a_shop_answer_at_the_size_cap_is_read_and_one_byte_more_is_an_error(server):
    session = ShopSession(timeout=10)
    assert len(session.call("GET", f"{server}/bytes/{MAX_BODY_BYTES}").body) == MAX_BODY_BYTES
    with pytest.raises(ProbeError) as raised:
        session.call("POST", f"{server}/bytes/{MAX_BODY_BYTES + 1}")
    assert str(raised.value) == \
        f"POST {server}/bytes/{MAX_BODY_BYTES + 1}: answer larger than {MAX_BODY_BYTES} bytes"


def test_a_shop_call_is_not_redirected(server):
    answer = ShopSession(timeout=5).call("POST", f"{server}/moved")
    assert (answer.url, answer.status) == (f"{server}/moved", 302)


def test_a_shop_call_slower_than_its_deadline_fails_naming_it_until_renewed(server):
    session = ShopSession(timeout=0.5)
    with pytest.raises(ProbeError) as raised:
        session.call("GET", f"{server}/drip")
    assert str(raised.value) == f"GET {server}/drip: no complete answer within the 0.5s timeout"
    with pytest.raises(ProbeError, match="within the 0.5s timeout"):
        session.call("GET", f"{server}/bytes/1")
    session.renew(5)
    assert session.call("GET", f"{server}/drip").body == b"x" * 10
