"""Staff export the certificates list and the sales figures as CSV.

"Export CSV" downloads exactly the filtered list the staff member is looking at; the file
parses back to the same rows with exact amounts, nothing in it runs as a spreadsheet
formula, and only a signed-in staff member of the workspace can download it. Runs on
SQLite and PostgreSQL through Starlette's TestClient.
"""

from __future__ import annotations

import csv
import io
import tracemalloc

import pytest
import sqlalchemy as sa

from giftcerts import db
from giftcerts.clock import utcnow
from giftcerts.api import exports as export_routes
from giftcerts.web.sessions import SESSION_COOKIE
from giftcerts.core import accounts, exports, lifecycle
from giftcerts.core.codes import mask_code
from giftcerts.models import Certificate, StaffRole, Workspace
from tests.factories import PASSWORD, make_staff

HOSTILE = ["=HYPERLINK(\"http://evil.example\",\"click\")", "+1+2", "-2+3", "@SUM(A1:A9)", "\tTabbed", "\rReturn"]


@pytest.fixture
def api(app, tenant):
    """A client for the export routes only (they are not part of the documented JSON API)."""
    from starlette.applications import Starlette
    from tests.api.conftest import Api, TestClient
    return Api(TestClient(Starlette(routes=export_routes.routes()), client=("203.0.113.10", 50000)), tenant)


def parse(response) -> list[list[str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"].startswith("attachment;")
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


def signed_in(client, tenant, role=StaffRole.VIEWER):
    with db.write_session(tenant.db_url) as s:
        staff = make_staff(s, s.get(Workspace, tenant.workspace.id), role=role)
    token = accounts.sign_in(tenant.db_url, email=staff.email, password=PASSWORD, address="203.0.113.10").token
    client.cookies.set(SESSION_COOKIE, token)
    return client


def test_the_exports_read_the_cookie_the_dashboard_reads():
    from giftcerts.web.sessions import token_from_cookies
    assert token_from_cookies(f"theme=dark; {SESSION_COOKIE}=abc123") == "abc123"


def test_the_export_round_trips_every_row_with_exact_amounts(api, tenant):
    # Given certificates with awkward amounts and hostile names, one of them voided
    made = [tenant.certificate(amount=amount, recipient_name=name)
            for amount, name in zip(["25.01", "100", "999.99", "33.30", "1000", "50.10"], HOSTILE)]
    with db.write_session(tenant.db_url) as s:
        lifecycle.void_certificate(s, s.get(Workspace, tenant.workspace.id), certificate_id=made[0].id,
                                   reason="=cmd|' /C calc'!A0", actor="staff")
    client = signed_in(api.client, tenant)
    # When a viewer exports the unfiltered list
    rows = parse(client.get("/exports/certificates.csv"))
    header, body = rows[0], rows[1:]
    # Then every certificate is there, newest first, amounts exact to the cent
    assert header[:6] == ["ID", "Code (masked)", "Status", "Amount", "Currency", "Amount (minor units)"]
    assert [int(r[0]) for r in body] == [c.id for c in reversed(made)]
    by_id = {int(r[0]): dict(zip(header, r)) for r in body}
    for cert in made:
        row = by_id[cert.id]
        assert row["Amount"] == f"{cert.amount_cents // 100}.{cert.amount_cents % 100:02d}"
        assert int(row["Amount (minor units)"]) == cert.amount_cents
        assert row["Code (masked)"] == mask_code(cert.code) and cert.code not in row["Code (masked)"]
    # And no cell starts with a character that makes a spreadsheet evaluate it
    for row in body:
        for cell in row:
            assert not cell.startswith(exports.FORMULA_TRIGGERS), cell
    # while the text itself survives behind the apostrophe
    for cert in made:  # (tab and CR are stripped from names on the way in, by validation)
        assert by_id[cert.id]["Recipient name"] == exports.neutralise(cert.recipient_name)
    assert {by_id[c.id]["Recipient name"] for c in made} >= {"'" + h for h in HOSTILE[:4]}
    assert by_id[made[0].id]["Void reason"] == "'=cmd|' /C calc'!A0"
    assert by_id[made[0].id]["Status"] == "Voided"


@pytest.mark.parametrize("cell, expected", [
    ("=1+1", "'=1+1"), ("+33 1 23", "'+33 1 23"), ("-1", "'-1"), ("@cmd", "'@cmd"), ("\tx", "'\tx"),
    ("\rx", "'\rx"), ("Ana", "Ana"), ("a=b", "a=b"), ("", ""), (None, ""), (2500, "2500"),
])
def test_cells_a_spreadsheet_would_evaluate_are_neutralised(cell, expected):
    assert exports.neutralise(cell) == expected


def test_the_export_is_the_filtered_list(api, tenant):
    kept = tenant.certificate(purchaser_email="agency@example.com")
    tenant.certificate(purchaser_email="someone@example.com")
    voided = tenant.certificate(purchaser_email="agency@example.com")
    with db.write_session(tenant.db_url) as s:
        lifecycle.void_certificate(s, s.get(Workspace, tenant.workspace.id), certificate_id=voided.id,
                                   reason="x", actor="staff")
    client = signed_in(api.client, tenant)
    rows = parse(client.get("/exports/certificates.csv", params={"q": "agency@example.com", "status": "active"}))
    assert [int(r[0]) for r in rows[1:]] == [kept.id]
    rows = parse(client.get("/exports/certificates.csv", params={"q": "agency@example.com"}))
    assert [int(r[0]) for r in rows[1:]] == [voided.id, kept.id]


def test_the_export_streams_in_batches_that_cover_every_row_once(tenant):
    # Given more certificates than fit in one batch
    made = [tenant.certificate(amount=str(25 + n)) for n in range(23)]
    with db.read_session(tenant.db_url) as s:
        ws = s.get(Workspace, tenant.workspace.id)
    # When the CSV is produced in batches of 5
    chunks = list(exports.certificates_csv(lambda: db.read_session(tenant.db_url), ws, query="", status="all",
                                           batch_size=5))
    # Then it came as a header and five chunks, and the rows are exactly the certificates
    assert len(chunks) == 1 + 5
    rows = list(csv.reader(io.StringIO(b"".join(chunks).decode("utf-8-sig"))))
    assert sorted(int(r[0]) for r in rows[1:]) == sorted(c.id for c in made)


def test_only_signed_in_staff_can_export(api, tenant):
    tenant.certificate()
    for path in ["/exports/certificates.csv", "/exports/overview.csv"]:
        assert api.client.get(path).status_code == 401
        api.client.cookies.set(SESSION_COOKIE, "forged-" + "x" * 40)
        assert api.client.get(path).status_code == 401
        # An API key is not a staff session
        assert api.client.get(path, headers=tenant.headers).status_code == 401
        api.client.cookies.clear()


def test_another_workspaces_staff_get_their_own_data_only(api, tenant, other):
    secret = tenant.certificate(recipient_email="secret@target.example", amount="777")
    mine = other.certificate()
    client = signed_in(api.client, other, role=StaffRole.OWNER)
    body = client.get("/exports/certificates.csv", params={"q": "secret@target.example"}).content.decode()
    assert "secret@target.example" not in body
    rows = parse(client.get("/exports/certificates.csv"))
    assert [int(r[0]) for r in rows[1:]] == [mine.id]
    report = client.get("/exports/overview.csv", params={"period": "year"}).content.decode("utf-8-sig")
    assert "777" not in report and secret.code not in report


def test_the_report_export_has_every_figure_with_exact_values(api, tenant):
    tenant.certificate(amount="100.10")
    tenant.certificate(amount="50.45")
    client = signed_in(api.client, tenant)
    rows = parse(client.get("/exports/overview.csv", params={"period": "30d"}))
    figures = {r[0]: r for r in rows if r}
    assert figures["Revenue (sold)"][1:4] == ["2", "150.55", "USD"]
    assert figures["Outstanding (now)"][1:4] == ["2", "150.55", "USD"]
    assert figures["Redemption rate by count"][1] == "0.00%"
    assert "Popular amounts" in figures and "Breakage" in figures and "Voided" in figures
    assert client.get("/exports/overview.csv", params={"period": "custom", "start": "x"}).status_code == 422


def test_a_large_export_does_not_hold_every_row_in_memory(tenant):
    """Memory grows with the batch, not the file: 6,000 rows through batches of 100."""
    with db.write_session(tenant.db_url) as s:
        rows = [{"workspace_id": tenant.workspace.id, "code": f"X{n:011d}", "status": "active", "amount_cents": 5000,
                 "currency": "USD", "purchaser_name": "P" * 200, "purchaser_email": "p@example.com",
                 "recipient_name": "R" * 200, "recipient_email": "r@example.com", "message": "", "source": "manual",
                 "created_at": utcnow()} for n in range(6000)]
        s.execute(sa.insert(Certificate), rows)
        ws = s.get(Workspace, tenant.workspace.id)
    stream = exports.certificates_csv(lambda: db.read_session(tenant.db_url), ws, query="", status="all",
                                      batch_size=100)
    next(stream), next(stream)  # header and first batch: caches warmed up
    tracemalloc.start()
    total = 0
    for chunk in stream:
        total += len(chunk)
        del chunk
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert total > 5900 * 400
    assert peak < total / 3, (peak, total)  # all rows at once would be several times the file
