"""Gift certificates move through different statuses: Pending, Active, Redeemed, Voided, Expired.

A model-based property test: Hypothesis drives random sequences of staff and customer
actions (issue paid or unpaid, mark paid, void, reactivate, redeem on a booking, release that
redemption, expire, sweep, let time pass) against the real functions — redemption through the
one path every channel uses — on SQLite and PostgreSQL, and after every step checks the rules
the seed and the design promise:

- a certificate is always in one of the five statuses;
- every status change is one the state machine (`lifecycle.ALLOWED`) allows;
- a refused action changes nothing: not the status, not a timestamp, not the activity log;
  and it is refused with the code the model expects (not_active, expired, invalid_code...);
- every change that happens adds exactly one activity entry, of the kind that names it;
- an active certificate was activated and expires `expiry_days` after activation;
- a voided certificate that has passed its expiry date never becomes active again.

Each step is its own write transaction, committed even when the action is refused, so a
refusal that wrote something before it refused would be caught.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlmodel import SQLModel, func, select

from giftcerts import db
from giftcerts.core import lifecycle, redemption
from giftcerts.core.errors import CertificateExpired, DomainError, InvalidCode, InvalidTransition, NotFound
from giftcerts.models import Activity, Certificate, CertificateStatus, Workspace
from tests.factories import make_certificate, make_workspace, redeem

S = CertificateStatus
ACTOR = "staff@example.com"
START = datetime(2031, 3, 1, 9, 0, tzinfo=timezone.utc)
# A handful of certificates is enough to explore how actions interleave; more would dilute them.
MAX_CERTIFICATES = 6
TIMESTAMPS = ("created_at", "activated_at", "expires_at", "redeemed_at", "voided_at")


@dataclass(frozen=True)
class Snapshot:
    """What a certificate looks like in the database, plus its activity log."""

    status: str
    timestamps: tuple
    void_reason: str | None
    kinds: tuple[str, ...]


def snapshot(session, cert_id: int) -> Snapshot:
    cert = session.get(Certificate, cert_id)
    kinds = session.exec(select(Activity.kind).where(Activity.certificate_id == cert_id).order_by(Activity.id)).all()
    return Snapshot(
        status=cert.status,
        timestamps=tuple(getattr(cert, name) for name in TIMESTAMPS),
        void_reason=cert.void_reason,
        kinds=tuple(kinds),
    )


class CertificateLifecycle(RuleBasedStateMachine):
    url: str = ""  # set by the test below

    certificates = Bundle("certificates")

    def __init__(self):
        super().__init__()
        self.now = START
        self.workspace_id: int | None = None
        self.rival_id: int | None = None
        self.expiry_days = 0
        self.model: dict[int, Snapshot] = {}
        # Certificates that were voided while their expiry date passed: dead for good.
        self.expired_while_voided: set[int] = set()
        # The applied redemption of each redeemed certificate, for the release action.
        self.applied: dict[int, int] = {}

    # ------------------------------------------------------------------ set-up

    @initialize(target=certificates, expiry_days=st.sampled_from([1, 2, 30, 365]),
                paid=st.lists(st.booleans(), min_size=2, max_size=4))
    def a_workspace_with_a_few_sales(self, expiry_days, paid):
        with db.write_session(self.url) as s:
            # Each run starts from an empty database, so the expiry sweep sees only this run's certificates.
            for table in reversed(SQLModel.metadata.sorted_tables):
                s.execute(sa.delete(table))
            ws = make_workspace(s, expiry_days=expiry_days)
            self.workspace_id = ws.id
            self.rival_id = make_workspace(s, expiry_days=expiry_days).id
        self.expiry_days = expiry_days
        return multiple(*(self._issue(p) for p in paid))

    def _workspace(self, session) -> Workspace:
        return session.get(Workspace, self.workspace_id)

    # ------------------------------------------------------------ the actions

    @rule(
        cert_id=certificates,
        action=st.sampled_from(["staff_mark_it_paid", "staff_void_it", "staff_reactivate_it",
                                "a_customer_redeems_it_on_a_booking", "the_booking_is_cancelled",
                                "the_expiry_job_expires_it",
                                "staff_void_it_then_change_their_mind", "another_workspace_tries_to_change_it"]),
        reason=st.sampled_from(["Customer refund", "Typo in recipient name", "   "]),
        order=st.integers(min_value=1, max_value=9999),
        rival_action=st.sampled_from(["mark_paid", "void", "reactivate", "redeem", "expire"]),
    )
    def someone_acts_on_a_certificate(self, cert_id, action, reason, order, rival_action):
        """One rule for every action, so that each run mixes all of them."""
        getattr(self, action)(cert_id, reason=reason, order=order, rival_action=rival_action)

    @precondition(lambda self: len(self.model) < MAX_CERTIFICATES)
    @rule(target=certificates, paid=st.booleans())
    def issue_a_certificate(self, paid):
        return self._issue(paid)

    def _issue(self, paid: bool) -> int:
        with db.write_session(self.url) as s:
            cert = make_certificate(s, self._workspace(s), paid=paid, now=self.now)
            cert_id = cert.id
        with db.read_session(self.url) as s:
            after = snapshot(s, cert_id)
        # Then: a new certificate is Pending with "Created", or Active with "Created", "Purchased".
        if paid:
            assert after.status == S.ACTIVE.value
            assert after.kinds == ("Created", "Purchased")
        else:
            assert after.status == S.PENDING.value
            assert after.kinds == ("Created",)
        assert after.timestamps[0] == self.now
        self.model[cert_id] = after
        return cert_id

    def staff_mark_it_paid(self, cert_id, **_):
        self._attempt(
            cert_id,
            lambda s, ws: lifecycle.mark_paid(s, ws, certificate_id=cert_id, actor=ACTOR, now=self.now),
            target=S.ACTIVE, kind="Purchased",
            expected_ok=self.model[cert_id].status == S.PENDING.value,
        )

    def staff_void_it(self, cert_id, reason, **_):
        status = self.model[cert_id].status
        self._attempt(
            cert_id,
            lambda s, ws: lifecycle.void_certificate(s, ws, certificate_id=cert_id, reason=reason, actor=ACTOR,
                                                     now=self.now),
            target=S.VOIDED, kind="Voided",
            expected_ok=reason.strip() != "" and status in (S.PENDING.value, S.ACTIVE.value),
        )

    def staff_reactivate_it(self, cert_id, **_):
        before = self.model[cert_id]
        activated_at, expires_at = before.timestamps[1], before.timestamps[2]
        self._attempt(
            cert_id,
            lambda s, ws: lifecycle.reactivate_certificate(s, ws, certificate_id=cert_id, actor=ACTOR, now=self.now),
            target=S.ACTIVE, kind="Reactivated",
            expected_ok=(before.status == S.VOIDED.value and activated_at is not None and expires_at > self.now),
        )

    def staff_void_it_then_change_their_mind(self, cert_id, reason, **_):
        """Void a certificate, then reactivate it straight away ("you can reactivate a voided
        certificate later")."""
        self.staff_void_it(cert_id, reason)
        self.staff_reactivate_it(cert_id)

    def a_customer_redeems_it_on_a_booking(self, cert_id, order, **_):
        before = self.model[cert_id]
        ok = before.status == S.ACTIVE.value and before.timestamps[2] > self.now
        expired = before.status == S.EXPIRED.value or (before.status == S.ACTIVE.value and not ok)
        done = {}

        def spend(s, ws):
            done["redemption"] = redeem(s, ws, s.get(Certificate, cert_id), reference=None,
                                        now=self.now).id
        self._attempt(cert_id, spend, target=S.REDEEMED, kind="Redeemed", expected_ok=ok,
                      refusal=CertificateExpired if expired else InvalidTransition)
        if ok:
            self.applied[cert_id] = done["redemption"]

    def the_booking_is_cancelled(self, cert_id, **_):
        """The booking the certificate paid for is cancelled: its redemption is released and the
        certificate is Active again, or Expired (with both entries) if its date has passed."""
        if cert_id not in self.applied:
            return
        before = self.model[cert_id]
        still_valid = before.timestamps[2] > self.now
        self._attempt(
            cert_id,
            lambda s, ws: redemption.release(s, ws, redemption_id=self.applied[cert_id], actor="api", now=self.now),
            target=S.ACTIVE if still_valid else S.EXPIRED, kind="Released", expected_ok=True,
            also=() if still_valid else ("Expired",),
        )
        del self.applied[cert_id]

    def the_expiry_job_expires_it(self, cert_id, **_):
        before = self.model[cert_id]
        self._attempt(
            cert_id,
            lambda s, ws: lifecycle.expire_certificate(s, ws, certificate_id=cert_id, now=self.now),
            target=S.EXPIRED, kind="Expired",
            expected_ok=before.status == S.ACTIVE.value and before.timestamps[2] <= self.now,
        )

    def another_workspace_tries_to_change_it(self, cert_id, rival_action, **_):
        """Another tour operator's staff use our certificate's id: it is simply not found."""
        calls = {
            "mark_paid": lambda s, ws: lifecycle.mark_paid(s, ws, certificate_id=cert_id, actor=ACTOR, now=self.now),
            "void": lambda s, ws: lifecycle.void_certificate(s, ws, certificate_id=cert_id, reason="Mine now",
                                                             actor=ACTOR, now=self.now),
            "reactivate": lambda s, ws: lifecycle.reactivate_certificate(s, ws, certificate_id=cert_id, actor=ACTOR,
                                                                         now=self.now),
            "redeem": lambda s, ws: redeem(s, ws, s.get(Certificate, cert_id), now=self.now),
            "expire": lambda s, ws: lifecycle.expire_certificate(s, ws, certificate_id=cert_id, now=self.now),
        }
        before = self.model[cert_id]
        with db.write_session(self.url) as s:
            # its code is simply not valid there either
            with pytest.raises(InvalidCode if rival_action == "redeem" else NotFound):
                calls[rival_action](s, s.get(Workspace, self.rival_id))
        with db.read_session(self.url) as s:
            assert snapshot(s, cert_id) == before

    def the_expiry_sweep_runs(self):
        due = {cid for cid, snap in self.model.items()
               if snap.status == S.ACTIVE.value and snap.timestamps[2] <= self.now}
        with db.write_session(self.url) as s:
            expired = lifecycle.expire_due(s, now=self.now)
        assert expired == len(due)
        with db.read_session(self.url) as s:
            for cert_id, before in list(self.model.items()):
                after = snapshot(s, cert_id)
                if cert_id in due:
                    self._check_one_step(before, after, S.EXPIRED, "Expired")
                else:
                    assert after == before, "the sweep touched a certificate that was not due"
                self.model[cert_id] = after

    @rule(
        cert_id=certificates,
        how_long=st.sampled_from(["to its exact expiry moment", 1, 6, 23, 24, 24 * 3, 24 * 10, 24 * 31]),
        then_the_sweep_runs=st.booleans(),
    )
    def time_passes(self, cert_id, how_long, then_the_sweep_runs):
        """Hours go by, or the clock stops exactly on one certificate's expiry moment."""
        if how_long == "to its exact expiry moment":
            expires_at = self.model[cert_id].timestamps[2]
            if expires_at is not None and expires_at > self.now:
                self.now = expires_at
        else:
            self.now += timedelta(hours=how_long)
        self._note_expired_while_voided()
        if then_the_sweep_runs:
            self.the_expiry_sweep_runs()

    # ------------------------------------------------------------ the checks

    def _attempt(self, cert_id, action, *, target: CertificateStatus, kind: str, expected_ok: bool,
                 refusal: type[DomainError] = DomainError, also: tuple[str, ...] = ()):
        before = self.model[cert_id]
        refused: DomainError | None = None
        with db.write_session(self.url) as s:
            try:
                action(s, self._workspace(s))
            except DomainError as exc:  # caught inside: the transaction still commits
                refused = exc
        with db.read_session(self.url) as s:
            after = snapshot(s, cert_id)
        if refused is not None:
            assert not expected_ok, f"refused unexpectedly: {refused.message}"
            assert isinstance(refused, refusal), f"refused as {refused.code}, expected {refusal.code}"
            assert refused.message, "a refusal always explains itself"
            assert after == before, f"a refused action changed the certificate: {before} -> {after}"
        else:
            assert expected_ok, f"allowed unexpectedly: {before.status} -> {after.status}"
            self._check_one_step(before, after, target, kind, also)
        self.model[cert_id] = after

    def _check_one_step(self, before: Snapshot, after: Snapshot, target: CertificateStatus, kind: str,
                        also: tuple[str, ...] = ()):
        assert after.status == target.value
        assert lifecycle.can_transition(before.status, after.status)
        assert S(after.status) in lifecycle.ALLOWED[S(before.status)]
        assert after.kinds == before.kinds + (kind, *also), "exactly one activity entry of the right kind"
        assert after.timestamps[0] == before.timestamps[0], "created_at never changes"
        if target is S.ACTIVE and before.status == S.VOIDED.value:
            # Reactivation restores the certificate; its original expiry date stands.
            assert after.timestamps[1:3] == before.timestamps[1:3]
            assert after.timestamps[4] is None and after.void_reason is None
        if target is S.ACTIVE and before.status == S.PENDING.value:
            assert after.timestamps[1] == self.now
        if target is S.REDEEMED:
            assert after.timestamps[3] == self.now
        if kind == "Released" and target is S.ACTIVE:
            assert after.timestamps[1:3] == before.timestamps[1:3] and after.timestamps[3] is None
        if target is S.VOIDED:
            assert after.timestamps[4] == self.now and after.void_reason

    def _note_expired_while_voided(self):
        for cert_id, snap in self.model.items():
            expires_at = snap.timestamps[2]
            if snap.status == S.VOIDED.value and expires_at is not None and expires_at <= self.now:
                self.expired_while_voided.add(cert_id)

    @invariant()
    def the_database_matches_what_happened(self):
        if self.workspace_id is None:
            return
        with db.read_session(self.url) as s:
            rows = s.exec(select(Certificate).where(Certificate.workspace_id == self.workspace_id)).all()
            activity_total = s.exec(
                select(func.count()).select_from(Activity).where(Activity.workspace_id == self.workspace_id)
            ).one()
            assert {c.id for c in rows} == set(self.model)
            assert activity_total == sum(len(snap.kinds) for snap in self.model.values())
            for cert in rows:
                assert cert.status in {status.value for status in CertificateStatus}
                assert snapshot(s, cert.id) == self.model[cert.id]
                if cert.status == S.ACTIVE.value:
                    assert cert.activated_at is not None
                    assert cert.expires_at == cert.activated_at + timedelta(days=self.expiry_days)
                if cert.status == S.PENDING.value:
                    assert cert.activated_at is None and cert.expires_at is None
                if cert.id in self.expired_while_voided:
                    assert cert.status != S.ACTIVE.value, "an expired voided certificate came back to life"


# Examples per database: 500 in all on every run of the suite.
EXAMPLES = {"sqlite": 300, "postgres": 200}


@pytest.mark.parametrize("backend", sorted(EXAMPLES))
def test_the_certificate_lifecycle_holds_under_any_sequence_of_actions(request, backend):
    CertificateLifecycle.url = request.getfixturevalue("sqlite_only_url" if backend == "sqlite" else "postgres_url")
    run_state_machine_as_test(
        CertificateLifecycle,
        settings=settings(max_examples=EXAMPLES[backend], stateful_step_count=20, deadline=None, database=None,
                          suppress_health_check=[HealthCheck.too_slow]),
    )
