"""The demo workspace: a staff owner, an API key and a few hundred certificates in every status
(the redeemed ones paid part of a booking, so the Orders page has them too).

Idempotent: certificates are created once; each run issues a fresh owner password and
API key (the previous demo key is revoked), because neither can be read back once stored.
"""

from __future__ import annotations

import random
import secrets
from datetime import timedelta

import sqlalchemy as sa
from sqlmodel import Session, select

from giftcerts import config
from giftcerts.clock import utcnow
from giftcerts.core import accounts, apikeys, lifecycle, redemption, workspaces
from giftcerts.core.accounts import _hasher
from giftcerts.models import ApiKey, Certificate, CertificateSource, Job, SignInRecord, StaffRole, StaffUser

DEMO_SLUG = "demo"
DEMO_EMAIL = "owner@demo.example"
VIEWER_EMAIL = "viewer@demo.example"
DEMO_KEY_NAME = "Demo key"
CERTIFICATES = 300

FIRST = ["Ana", "Ben", "Chloé", "Dmitri", "Eva", "Farid", "Grace", "Hiro", "Inès", "Jon", "Kai", "Lena", "Mateo",
         "Nora", "Omar", "Priya", "Quinn", "Rosa", "Sami", "Tara"]
LAST = ["Andersen", "Brown", "Costa", "Dubois", "Evans", "Fischer", "García", "Hughes", "Ivanova", "Jensen",
        "Kowalski", "López", "Müller", "Nakamura", "O'Brien", "Patel"]
MESSAGES = ["Happy birthday! Enjoy an adventure on us.", "For the trip you keep talking about.",
            "Congratulations on your retirement!", "Merry Christmas!", "", "Thank you for everything."]


def seed_demo(session: Session) -> dict:
    ws = workspaces.find_workspace(session, DEMO_SLUG)
    if ws is None:
        ws = workspaces.create_workspace(session, slug=DEMO_SLUG, name="Demo Adventures", currency="USD",
                                         timezone="America/New_York")
    # The demo checkout page (/demo/checkout) embeds the widget from the app's own origin.
    own_origin = workspaces.normalize_origin(config.public_url())
    if own_origin and own_origin not in ws.embed_origins.split():
        ws.embed_origins = " ".join([*ws.embed_origins.split(), own_origin])
        session.add(ws)
    if not ws.booking_url:  # the demo's stand-in booking site, so its certificates carry a QR code
        ws.booking_url = config.public_url() + "/demo/checkout?gift_certificate={code}"
        session.add(ws)
    password = secrets.token_urlsafe(12)
    _ensure_staff(session, ws, DEMO_EMAIL, password, StaffRole.OWNER, "Demo Owner")
    _ensure_staff(session, ws, VIEWER_EMAIL, password, StaffRole.VIEWER, "Demo Viewer")
    session.execute(
        sa.update(ApiKey).where(ApiKey.workspace_id == ws.id, ApiKey.name == DEMO_KEY_NAME,
                                ApiKey.revoked_at.is_(None)).values(revoked_at=utcnow())
    )
    apikeys.forget_on_commit(session)
    _, api_key = apikeys.create_api_key(session, ws, name=DEMO_KEY_NAME)
    existing = session.exec(select(sa.func.count()).select_from(Certificate).where(
        Certificate.workspace_id == ws.id)).one()
    if existing == 0:
        _certificates(session, ws)
    _portal_catalogue(session, ws)
    return {"workspace": ws.slug, "staff_email": DEMO_EMAIL, "staff_password": password,
            "viewer_email": VIEWER_EMAIL, "viewer_password": password, "api_key": api_key}


def _ensure_staff(session, ws, email, password, role, name) -> None:
    user = session.exec(select(StaffUser).where(StaffUser.email == email)).first()
    if user is None:
        accounts.create_staff(session, ws, email=email, password=password, role=role, name=name)
    else:
        user.password_hash = _hasher.hash(password)
        session.add(user)
        # a fresh demo login is not paused by earlier failed attempts
        session.execute(sa.delete(SignInRecord).where(SignInRecord.email == email))


def _certificates(session: Session, ws) -> None:
    rng = random.Random(2026)
    now = utcnow()
    amounts = [5000, 10000, 10000, 15000, 25000, 25000, 50000, 7500, 20000]
    for n in range(CERTIFICATES):
        buyer = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        recipient = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        created = now - timedelta(days=rng.uniform(0, 420), minutes=rng.randint(0, 1440))
        fate = rng.random()
        cert = lifecycle.issue_certificate(
            session, ws,
            purchaser_name=buyer, purchaser_email=_email(buyer, n),
            recipient_name=recipient, recipient_email=_email(recipient, n + 1000),
            amount=rng.choice(amounts), message=rng.choice(MESSAGES),
            source=rng.choice([CertificateSource.MANUAL, CertificateSource.PORTAL, CertificateSource.PORTAL,
                               CertificateSource.API]),
            paid=fate > 0.06, actor=DEMO_EMAIL, now=created,
        )
        if cert.status != "active":
            continue
        later = created + timedelta(days=rng.uniform(1, 200))
        if cert.expires_at <= now and fate < 0.75:
            lifecycle.expire_certificate(session, ws, certificate_id=cert.id, now=cert.expires_at)
        elif fate < 0.40 and later < min(now, cert.expires_at):
            # A booking paid partly with the certificate: the order shows it and what was still due.
            order = redemption.create_order(session, ws, reference=f"BK-{10000 + n}",
                                            total_cents=cert.amount_cents + rng.choice([0, 4500, 12000, 38000]),
                                            customer_email=cert.recipient_email, now=later)
            redemption.redeem(session, ws, code=cert.code, order_id=order.id, actor="booking platform", now=later)
        elif fate < 0.48 and later < now:
            lifecycle.void_certificate(session, ws, certificate_id=cert.id, actor=DEMO_EMAIL, now=later,
                                       reason=rng.choice(["Customer refund", "Duplicate sale", "Typo in recipient"]))
        elif cert.expires_at <= now:
            lifecycle.expire_certificate(session, ws, certificate_id=cert.id, now=cert.expires_at)
    # These sales "happened" in the past: no emails for them (their PDFs are rendered on download).
    session.execute(sa.delete(Job).where(Job.workspace_id == ws.id, Job.status == "queued"))


def _email(name: str, n: int) -> str:
    local = "".join(ch for ch in name.lower().replace(" ", ".") if ch.isascii() and (ch.isalnum() or ch == "."))
    return f"{local}{n % 7 or ''}@example.com"


def _portal_catalogue(session: Session, ws) -> None:
    """Certificate types and segments, so the portal demo shows restrictions at work (created once)."""
    from giftcerts.core import certificate_types, segments

    if certificate_types.list_types(session, ws.id) or segments.list_segments(session, ws.id):
        return
    partners = segments.save_segment(session, ws, name="Partner agencies", kind="customer_group",
                                     members_text="travelpartner.example\nana.costa@example.com")
    europe = segments.save_segment(session, ws, name="Europe", kind="market", market_code="EU")
    certificate_types.save_type(session, ws, name="Travel credit", description="Credit for any tour, any season.",
                                accent_color="#0f766e", preset_amounts="50, 100, 250")
    certificate_types.save_type(session, ws, name="Safari adventure",
                                description="For our East Africa safaris: game drives, lodges and the great migration.",
                                accent_color="#b45309", preset_amounts="250, 500, 1000", min_amount="250")
    certificate_types.save_type(session, ws, name="Alpine winter",
                                description="Ski weeks and winter tours in the Alps.", accent_color="#1d4ed8",
                                preset_amounts="100, 200, 400", segment_ids=[europe.id])
    certificate_types.save_type(session, ws, name="Partner agency credit",
                                description="Trade credit for our partner travel agencies.", accent_color="#7c3aed",
                                preset_amounts="500, 1000", min_amount="100", segment_ids=[partners.id])
