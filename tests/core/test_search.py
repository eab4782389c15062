"""Find certificates by searching for the redemption code, purchaser email, recipient email,
or status. This helps you quickly locate specific certificates when customers have questions.

Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from giftcerts import db
from giftcerts.clock import utcnow
from giftcerts.core import lifecycle, search
from giftcerts.core.codes import format_code
from giftcerts.models import Certificate
from tests.factories import make_certificate, make_workspace, redeem


def ids(page) -> list[int]:
    return [c.id for c in page.items]


def find(session, ws, query=None, status=None, **kwargs) -> list[int]:
    return ids(search.search_certificates(session, workspace_id=ws.id, query=query, status=status, **kwargs))


def set_code(session, cert, code: str) -> None:
    """Give a certificate a known code (codes are random; look-alike tests need 0s and 1s)."""
    session.execute(sa.update(Certificate).where(Certificate.id == cert.id).values(code=code))
    session.refresh(cert)


# ------------------------------------------------------------------- by redemption code


@pytest.mark.parametrize("typed", [
    "{code}",                       # as stored
    "{dashed}",                     # as printed on the PDF: XXXX-XXXX-XXXX
    "{lower}",                      # lower case
    "{dashed_lower}",
    "  {spaced}  ",                 # groups separated by spaces, padded
    "{code_with_lookalikes}",       # O for 0, I and L for 1
    "{lower_lookalikes_dashed}",
])
def test_a_certificate_is_found_by_its_redemption_code_typed_in_any_form(db_url, typed):
    # Given a certificate whose code has the symbols people mistype (0 and 1) and a few others
    with db.write_session(db_url) as s:
        ws = make_workspace(s)
        cert = make_certificate(s, ws)
        make_certificate(s, ws)
        make_certificate(s, ws)
        set_code(s, cert, "01KQ7P10MZ1W")
        forms = {
            "code": cert.code,
            "dashed": format_code(cert.code),
            "lower": cert.code.lower(),
            "dashed_lower": format_code(cert.code).lower(),
            "spaced": " ".join(format_code(cert.code).split("-")),
            "code_with_lookalikes": "OIKQ7PLOMZIW",
            "lower_lookalikes_dashed": "oikq-7plo-mzlw",
        }
        # When staff search for the code as the customer read it out
        found = find(s, ws, typed.format(**forms))
    # Then exactly that certificate is found
    assert found == [cert.id]


def test_a_code_that_matches_nothing_finds_nothing(db_url):
    with db.write_session(db_url) as s:
        ws = make_workspace(s)
        cert = make_certificate(s, ws)
        other = "0000000000000" if cert.code != "000000000000" else "111111111111"
        assert find(s, ws, other[:12]) == []


# ------------------------------------------------------------------- by email


def test_certificates_are_found_by_purchaser_email_in_any_case(db_url):
    # Given a purchaser who bought two certificates, and someone else's certificate
    with db.write_session(db_url) as s:
        ws = make_workspace(s)
        first = make_certificate(s, ws, purchaser_email="Pat.Buyer@Example.com")
        second = make_certificate(s, ws, purchaser_email="pat.buyer@example.com")
        make_certificate(s, ws, purchaser_email="someone.else@example.com")
        # When staff search by the purchaser's email, typed in another case
        found = find(s, ws, "  PAT.BUYER@EXAMPLE.COM ")
    # Then both of that purchaser's certificates are found, newest first
    assert found == [second.id, first.id]


def test_certificates_are_found_by_recipient_email(db_url):
    with db.write_session(db_url) as s:
        ws = make_workspace(s)
        gift = make_certificate(s, ws, recipient_email="robin@travel.example")
        make_certificate(s, ws, recipient_email="sam@travel.example")
        assert find(s, ws, "Robin@Travel.Example") == [gift.id]


def test_an_email_finds_certificates_bought_by_and_for_that_person_once_each(db_url):
    # Given Alex bought one certificate, received another, and bought one for themself
    with db.write_session(db_url) as s:
        ws = make_workspace(s)
        bought = make_certificate(s, ws, purchaser_email="alex@example.com")
        received = make_certificate(s, ws, recipient_email="alex@example.com")
        for_self = make_certificate(s, ws, purchaser_email="alex@example.com", recipient_email="alex@example.com")
        make_certificate(s, ws)
        # When staff search for Alex's email
        found = find(s, ws, "alex@example.com")
    # Then each of the three appears exactly once, newest first
    assert found == [for_self.id, received.id, bought.id]


def test_a_partial_email_finds_certificates_by_prefix(db_url):
    with db.write_session(db_url) as s:
        ws = make_workspace(s)
        pat = make_certificate(s, ws, purchaser_email="patricia@example.com")
        make_certificate(s, ws, purchaser_email="sam@example.com")
        assert find(s, ws, "patri") == [pat.id]


# ------------------------------------------------------------------- by name


def test_certificates_are_found_by_the_start_of_a_purchaser_or_recipient_name(db_url):
    with db.write_session(db_url) as s:
        ws = make_workspace(s)
        by_purchaser = make_certificate(s, ws, purchaser_name="Margaret Hale", recipient_name="John Thornton")
        by_recipient = make_certificate(s, ws, purchaser_name="Nicholas Higgins", recipient_name="Margot Bessy")
        make_certificate(s, ws, purchaser_name="Fanny Hale", recipient_name="Dixon")
        assert find(s, ws, "marg") == [by_recipient.id, by_purchaser.id]
        assert find(s, ws, "MARGARET") == [by_purchaser.id]
        assert find(s, ws, "thornton") == []  # a prefix search, not a substring search
        assert find(s, ws, "John Th") == [by_purchaser.id]


def test_names_with_accents_are_found(db_url):
    with db.write_session(db_url) as s:
        ws = make_workspace(s)
        zoe = make_certificate(s, ws, recipient_name="Zoë Ångström")
        make_certificate(s, ws, recipient_name="Zoe Smith")
        assert find(s, ws, "Zoë") == [zoe.id]


# ------------------------------------------------------------------- by status


def _one_of_each_status(session, ws):
    pending = make_certificate(session, ws, paid=False)
    active = make_certificate(session, ws)
    redeemed = make_certificate(session, ws)
    redeem(session, ws, redeemed, reference="B-1")
    voided = make_certificate(session, ws)
    lifecycle.void_certificate(session, ws, certificate_id=voided.id, reason="Refund", actor="staff@example.com")
    expired = make_certificate(session, ws, now=utcnow() - timedelta(days=ws.expiry_days + 1))
    lifecycle.expire_certificate(session, ws, certificate_id=expired.id)
    return {"pending": pending, "active": active, "redeemed": redeemed, "voided": voided, "expired": expired}


@pytest.mark.parametrize("status", ["pending", "active", "redeemed", "voided", "expired"])
def test_the_status_filter_shows_only_certificates_in_that_status(db_url, status):
    with db.write_session(db_url) as s:
        ws = make_workspace(s)
        certs = _one_of_each_status(s, ws)
        assert find(s, ws, status=status) == [certs[status].id]
        # the filter accepts the label as shown on screen, too
        assert find(s, ws, status=status.capitalize()) == [certs[status].id]


def test_all_statuses_or_an_unknown_status_shows_everything(db_url):
    with db.write_session(db_url) as s:
        ws = make_workspace(s)
        certs = _one_of_each_status(s, ws)
        everything = sorted((c.id for c in certs.values()), reverse=True)
        assert find(s, ws) == everything
        assert find(s, ws, status="all") == everything
        assert find(s, ws, status="") == everything


def test_email_and_status_combine(db_url):
    # Given a purchaser with an active and a voided certificate
    with db.write_session(db_url) as s:
        ws = make_workspace(s)
        active = make_certificate(s, ws, purchaser_email="pat@example.com")
        voided = make_certificate(s, ws, purchaser_email="pat@example.com")
        lifecycle.void_certificate(s, ws, certificate_id=voided.id, reason="Refund", actor="staff@example.com")
        make_certificate(s, ws, purchaser_email="other@example.com")
        # When staff search the purchaser's email among voided certificates
        # Then only the voided one is shown
        assert find(s, ws, "pat@example.com", status="voided") == [voided.id]
        assert find(s, ws, "pat@example.com", status="active") == [active.id]
        assert find(s, ws, "pat@example.com", status="redeemed") == []


def test_code_and_status_combine(db_url):
    with db.write_session(db_url) as s:
        ws = make_workspace(s)
        cert = make_certificate(s, ws)
        assert find(s, ws, cert.code, status="active") == [cert.id]
        assert find(s, ws, cert.code, status="voided") == []


# ------------------------------------------------------------------- pagination


def _walk(session, ws, *, query=None, status=None, limit=3) -> tuple[list[int], list[int]]:
    """Follow next_cursor from the first page to the last; returns all ids and page sizes."""
    seen: list[int] = []
    sizes: list[int] = []
    cursor = None
    for _ in range(100):
        page = search.search_certificates(session, workspace_id=ws.id, query=query, status=status,
                                          cursor=cursor, limit=limit)
        seen += ids(page)
        sizes.append(len(page.items))
        if page.next_cursor is None:
            return seen, sizes
        cursor = page.next_cursor
    raise AssertionError("pagination never ended")


@pytest.mark.parametrize("count", [0, 1, 3, 7, 9])
def test_pages_of_three_walk_every_certificate_exactly_once_newest_first(db_url, count):
    # Given some certificates in this workspace and some in another
    with db.write_session(db_url) as s:
        ws, other = make_workspace(s), make_workspace(s)
        created = []
        for n in range(count):
            created.append(make_certificate(s, ws).id)
            make_certificate(s, other)
        # When staff page through the list three at a time
        seen, sizes = _walk(s, ws)
    # Then every certificate appears exactly once, newest first, in full pages but the last
    assert seen == sorted(created, reverse=True)
    assert all(size == 3 for size in sizes[:-1])
    assert sizes[-1] <= 3
    assert len(sizes) == max(1, -(-count // 3))  # no trailing empty page


def test_paging_a_search_by_email_walks_every_match_once(db_url):
    with db.write_session(db_url) as s:
        ws = make_workspace(s)
        expected = []
        for n in range(8):
            role = n % 3
            cert = make_certificate(
                s, ws,
                purchaser_email="alex@example.com" if role in (0, 2) else f"p{n}@example.com",
                recipient_email="alex@example.com" if role in (1, 2) else f"r{n}@example.com",
            )
            expected.append(cert.id)
            make_certificate(s, ws)  # noise
        seen, _ = _walk(s, ws, query="alex@example.com")
    assert seen == sorted(expected, reverse=True)


def test_paging_a_status_filter_walks_every_match_once(db_url):
    with db.write_session(db_url) as s:
        ws = make_workspace(s)
        pending = []
        for n in range(7):
            pending.append(make_certificate(s, ws, paid=False).id)
            make_certificate(s, ws, paid=True)
        seen, _ = _walk(s, ws, status="pending")
    assert seen == sorted(pending, reverse=True)


@pytest.mark.parametrize("cursor", ["", "abc", "-5", "1e9", "9" * 40, "1; DROP TABLE certificates"])
def test_a_tampered_cursor_starts_from_the_first_page(db_url, cursor):
    with db.write_session(db_url) as s:
        ws = make_workspace(s)
        newest = [make_certificate(s, ws).id for _ in range(4)][::-1]
        assert find(s, ws, cursor=cursor, limit=3) == newest[:3]


def test_page_size_is_kept_within_bounds(db_url):
    with db.write_session(db_url) as s:
        ws = make_workspace(s)
        for _ in range(3):
            make_certificate(s, ws)
        assert len(find(s, ws, limit=0)) == 1
        assert len(find(s, ws, limit=-10)) == 1
        assert len(find(s, ws, limit=10_000)) == 3


# ------------------------------------------------------------------- tenancy


def test_another_workspaces_certificates_never_appear_even_by_exact_code(db_url):
    # Given our workspace and a competitor's, both with a customer using the same email
    with db.write_session(db_url) as s:
        ours, theirs = make_workspace(s), make_workspace(s)
        mine = make_certificate(s, ours, purchaser_email="shared@example.com", purchaser_name="Shared Person")
        foreign = make_certificate(s, theirs, purchaser_email="shared@example.com", purchaser_name="Shared Person")
        # When we search with anything that would match their certificate
        for query in (foreign.code, format_code(foreign.code).lower(), "shared@example.com", "shared", None):
            found = find(s, ours, query)
            # Then only our own certificates come back
            assert foreign.id not in found
            assert set(found) <= {mine.id}
        assert find(s, ours, foreign.code) == []
        assert find(s, ours, foreign.code, status="active") == []
        assert search.find_by_code(s, workspace_id=ours.id, raw_code=foreign.code) is None
        assert search.find_by_code(s, workspace_id=theirs.id, raw_code=format_code(foreign.code).lower()).id == foreign.id


# ------------------------------------------------------------------- hostile input


HOSTILE = [
    "%", "_", "%%", "_%_", "\\", "\\%", "'", "\"", "' OR '1'='1", "'; DROP TABLE certificates; --",
    "robin%", "%@example.com", "_@example.com", "*", "?", "[a-z]*", ".*", "$", "^",
    "x" * 10_000, "@" * 300, "a" * 253 + "@example.com",
    "😀", "Zoë", "日本語", "\u202e", "\u200b", "ΣΊΣΥΦΟΣ", "ǅ", "İ",
    "\x00", "zz\x00top", "\x00@example.com", "\x07\x1b[31m", "\t\n\r", "   ",
    "%' UNION SELECT * FROM staff_users --", "1 OR 1=1", "NULL", "None", "true",
]


@pytest.mark.parametrize("query", HOSTILE, ids=lambda q: repr(q)[:40])
def test_hostile_search_text_finds_nothing_and_does_not_crash(db_url, query):
    # Given certificates whose names and emails do not contain anything special
    with db.write_session(db_url) as s:
        ws = make_workspace(s)
        certs = [make_certificate(s, ws, purchaser_name="Pat Buyer", recipient_name="Robin Traveller")
                 for _ in range(3)]
        # When someone searches with SQL metacharacters, wildcards, huge or odd unicode text
        found = find(s, ws, query)
        found_active = find(s, ws, query, status="active")
    # Then nothing matches (text that is blank once control characters are dropped simply
    # lists everything, as an empty search box does) and no error escapes
    if query.strip(" \t\n\r\x00") == "":
        assert found == sorted((c.id for c in certs), reverse=True)
    else:
        assert found == []
        assert found_active == []


def test_control_characters_in_search_text_are_ignored(db_url):
    # Given a code pasted from somewhere that added invisible control characters
    with db.write_session(db_url) as s:
        ws = make_workspace(s)
        cert = make_certificate(s, ws, purchaser_name="Pat Buyer")
        make_certificate(s, ws, purchaser_name="Sam Other")
        assert find(s, ws, cert.code[:6] + "\x00" + cert.code[6:]) == [cert.id]
        assert find(s, ws, "pat\x00 bu") == [cert.id]
        assert find(s, ws, "\x00" + cert.purchaser_email.upper()) == [cert.id]


def test_wildcards_are_taken_literally(db_url):
    # Given someone whose name really starts with an underscore or percent sign
    with db.write_session(db_url) as s:
        ws = make_workspace(s)
        underscore = make_certificate(s, ws, purchaser_name="_Underscore Ltd")
        percent = make_certificate(s, ws, purchaser_name="100% Adventures")
        make_certificate(s, ws, purchaser_name="Plain Name")
        assert find(s, ws, "_") == [underscore.id]
        assert find(s, ws, "100%") == [percent.id]
        assert find(s, ws, "10_%") == []


def test_accented_capitals_are_found_whichever_case_is_typed(db_url):
    with db.write_session(db_url) as s:
        ws = make_workspace(s)
        elodie = make_certificate(s, ws, recipient_name="Élodie Durand")
        oystein = make_certificate(s, ws, purchaser_name="Øystein Berg")
        make_certificate(s, ws, recipient_name="Eloise Durand")
        assert find(s, ws, "Élodie") == [elodie.id]
        assert find(s, ws, "élodie") == [elodie.id]
        assert find(s, ws, "ØYSTEIN") == [oystein.id]
        assert find(s, ws, "øystein b") == [oystein.id]
