"""One answer for every id that is not this workspace's row (core.scoped.get_in_workspace)."""

from __future__ import annotations

import pytest

from giftcerts import db
from giftcerts.core import certificate_types
from giftcerts.core.errors import NotFound
from giftcerts.core.scoped import get_in_workspace
from giftcerts.models import Certificate, CertificateType
from tests.factories import make_certificate, make_workspace


def test_a_row_of_this_workspace_is_found_by_its_id_as_text_or_number(db_url):
    with db.write_session(db_url) as s:
        ws = make_workspace(s)
        cert = make_certificate(s, ws)
        for raw in (cert.id, str(cert.id)):
            assert get_in_workspace(s, Certificate, ws.id, raw, not_found="Certificate not found.").id == cert.id
        assert get_in_workspace(s, Certificate, ws.id, cert.id, not_found="x", lock=True).id == cert.id


@pytest.mark.parametrize("raw", ["theirs", "missing", "", None, "abc", "-1", "0", True, 2**31, "1.0", " 1"])
def test_another_workspaces_id_a_missing_id_and_a_non_id_are_all_not_found(db_url, raw):
    with db.write_session(db_url) as s:
        mine, theirs = make_workspace(s), make_workspace(s)
        their_type = certificate_types.save_type(s, theirs, name="Theirs")
        value = {"theirs": their_type.id, "missing": their_type.id + 1000}.get(raw, raw)
        with pytest.raises(NotFound) as refused:
            get_in_workspace(s, CertificateType, mine.id, value, not_found="Certificate type not found.")
    assert refused.value.message == "Certificate type not found."
