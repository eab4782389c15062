"""Live pages poll one cheap change marker per workspace, shared by every open page.

"Staff on a live dashboard": the Overview and the certificates list refresh themselves, but
a hundred open tabs must not mean a hundred times the queries. The marker is read from the
database at most once per MARKER_TTL per workspace, and a browser that went away stops its
poller.
"""

from __future__ import annotations

import pytest

from giftcerts import db
from giftcerts.core import reports
from giftcerts.ui import live
from tests.factories import make_certificate, make_workspace


@pytest.fixture
def clock(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(live.time, "monotonic", lambda: now[0])
    live._markers.clear()
    yield now
    live._markers.clear()


def test_the_marker_is_read_once_per_interval_whatever_the_number_of_pages(sqlite_only_url, monkeypatch, clock):
    monkeypatch.setenv("REFLEX_DB_URL", sqlite_only_url)
    with db.write_session(sqlite_only_url) as s:
        ws, other = make_workspace(s), make_workspace(s)
        make_certificate(s, ws)
    calls = []
    real = reports.change_marker
    monkeypatch.setattr(live.reports, "change_marker", lambda session, ws_id: calls.append(ws_id) or real(session, ws_id))
    # Given fifty open pages of one workspace polling at the same moment
    markers = {live.current_marker(ws.id) for _ in range(50)}
    # Then the database was asked once, and every page got the same answer
    assert calls == [ws.id] and len(markers) == 1 and markers.pop() > 0
    # And another workspace has its own marker
    assert live.current_marker(other.id) == 0 and calls == [ws.id, other.id]
    # When a sale happens and the interval has passed, the next poll sees it
    with db.write_session(sqlite_only_url) as s:
        before = live.current_marker(ws.id)
        make_certificate(s, s.merge(ws))
    assert live.current_marker(ws.id) == before  # still within the interval: cached
    clock[0] += live.MARKER_TTL
    assert live.current_marker(ws.id) > before
    assert calls.count(ws.id) == 2


def test_a_page_without_a_connected_browser_does_not_poll():
    assert live._connected("") is False
    assert live._connected("a-token-no-socket-has") is False
