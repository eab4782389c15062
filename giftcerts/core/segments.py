"""Certificate types and segment restrictions: who may buy which certificate on the portal.

A certificate type (name, description, accent colour or image, its own preset amounts and
optional narrower bounds) may be restricted to segments; a type with no segments is for
everyone. A segment is either a customer group, whose members are email addresses or email
domains, or a market, identified by a market code (the portal's entry link `?market=XX` or
the visitor's own choice). A visitor may buy a restricted type when they belong to at least
one of its segments. The portal shows only those types, and the purchase is checked again on
the server at payment time (giftcerts.core.purchases).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email
from sqlmodel import Session, select

from giftcerts.core import money
from giftcerts.core.documents import forget_pdfs
from giftcerts.core.errors import DomainError, NotFound, ValidationError
from giftcerts.core.ids import parse_id
from giftcerts.core.validation import clean_text
from giftcerts.models import (CertificateType, CertificateTypeSegment, Segment, SegmentKind, SegmentMember,
                              Workspace)

MARKET_CODE = re.compile(r"^[A-Z0-9][A-Z0-9-]{0,9}$")
COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
DOMAIN = re.compile(r"^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
MAX_MEMBERS = 5000
MAX_PRESETS = 8


class NotEligible(DomainError):
    """The visitor may not buy this certificate type (segment restriction)."""

    code = "not_eligible"
    http_status = 403


@dataclass(frozen=True)
class Visitor:
    """Who is looking at the portal: the purchaser email entered so far and the market chosen."""

    email: str = ""
    market: str = ""


# --- segments --------------------------------------------------------------------------------

def normalize_market(code: str | None) -> str:
    """`us`, ` US ` -> `US`; anything that cannot be a market code -> ''."""
    text = (code or "").strip().upper()
    return text if MARKET_CODE.match(text) else ""


def parse_members(text: str | None, errors: dict[str, str], field: str = "members") -> list[tuple[str, str]]:
    """One entry per line (or comma): `ana@example.com` is an address, `example.com` or
    `@example.com` a whole email domain. Stored lower-case, without duplicates."""
    found: list[tuple[str, str]] = []
    for raw in re.split(r"[\s,;]+", text or ""):
        entry = raw.strip().lower()
        if not entry:
            continue
        if "@" in entry.lstrip("@"):
            try:
                member = ("email", validate_email(entry, check_deliverability=False).normalized.lower())
            except EmailNotValidError:
                errors[field] = f"“{raw[:60]}” is not an email address or a domain."
                return []
        else:
            domain = entry.lstrip("@")
            try:
                domain = domain.encode("idna").decode("ascii")
            except UnicodeError:
                domain = ""
            if not DOMAIN.match(domain):
                errors[field] = f"“{raw[:60]}” is not an email address or a domain (like example.com)."
                return []
            member = ("domain", domain)
        if member not in found:
            found.append(member)
    if len(found) > MAX_MEMBERS:
        errors[field] = f"A customer group can have at most {MAX_MEMBERS} entries."
        return []
    return found


def get_segment(session: Session, workspace_id: int, segment_id) -> Segment:
    sid = parse_id(segment_id)
    seg = None if sid is None else session.exec(
        select(Segment).where(Segment.id == sid, Segment.workspace_id == workspace_id)).first()
    if seg is None:
        raise NotFound("Segment not found.")
    return seg


def list_segments(session: Session, workspace_id: int) -> list[Segment]:
    return list(session.exec(select(Segment).where(Segment.workspace_id == workspace_id)
                             .order_by(Segment.kind, Segment.name)))


def members(session: Session, segment: Segment) -> list[SegmentMember]:
    return list(session.exec(select(SegmentMember).where(SegmentMember.segment_id == segment.id)
                             .order_by(SegmentMember.kind.desc(), SegmentMember.value)))


def members_text(session: Session, segment: Segment) -> str:
    return "\n".join(m.value for m in members(session, segment))


def save_segment(session: Session, workspace: Workspace, *, segment_id=None, name: str | None, kind: str | None,
                 market_code: str | None = "", members_text: str | None = "") -> Segment:
    """Create or change a segment; every problem is reported at once."""
    errors: dict[str, str] = {}
    name = clean_text(name)
    if not name:
        errors["name"] = "Enter a name for the segment."
    elif len(name) > 100:
        errors["name"] = "The name must be at most 100 characters."
    try:
        kind_value = SegmentKind(kind or "").value
    except ValueError:
        errors["kind"] = "Choose a customer group or a market."
        kind_value = SegmentKind.CUSTOMER_GROUP.value
    segment = get_segment(session, workspace.id, segment_id) if segment_id else None
    if segment is not None and segment.kind != kind_value:
        errors["kind"] = "A segment's kind cannot change; create a new segment instead."
    code = None
    entries: list[tuple[str, str]] = []
    if kind_value == SegmentKind.MARKET.value:
        code = normalize_market(market_code)
        if not code:
            errors["market_code"] = "Enter a market code of 1 to 10 letters or digits, such as US or DE."
        elif session.exec(select(Segment.id).where(Segment.workspace_id == workspace.id, Segment.market_code == code,
                                                   Segment.id != (segment.id if segment else 0))).first():
            errors["market_code"] = f"Another segment already uses the market code {code}."
    else:
        entries = parse_members(members_text, errors)
    if name and session.exec(select(Segment.id).where(Segment.workspace_id == workspace.id, Segment.name == name,
                                                      Segment.id != (segment.id if segment else 0))).first():
        errors["name"] = f"A segment named “{name}” already exists."
    if errors:
        raise ValidationError(errors)
    if segment is None:
        segment = Segment(workspace_id=workspace.id, name=name, kind=kind_value, market_code=code)
    else:
        segment.name, segment.market_code = name, code
    session.add(segment)
    session.flush()
    if kind_value == SegmentKind.CUSTOMER_GROUP.value:
        session.execute(sa.delete(SegmentMember).where(SegmentMember.segment_id == segment.id))
        session.add_all([SegmentMember(workspace_id=workspace.id, segment_id=segment.id, kind=k, value=v)
                         for k, v in entries])
        session.flush()
    return segment


def delete_segment(session: Session, workspace: Workspace, *, segment_id) -> None:
    """Remove a segment. Types it restricted lose that restriction (and may become open to all,
    so the caller warns first: see `types_restricted_by`)."""
    segment = get_segment(session, workspace.id, segment_id)
    session.execute(sa.delete(CertificateTypeSegment).where(CertificateTypeSegment.segment_id == segment.id))
    session.execute(sa.delete(SegmentMember).where(SegmentMember.segment_id == segment.id))
    session.delete(segment)
    session.flush()


def types_restricted_by(session: Session, segment: Segment) -> list[CertificateType]:
    return list(session.exec(select(CertificateType).join(
        CertificateTypeSegment, CertificateTypeSegment.certificate_type_id == CertificateType.id)
        .where(CertificateTypeSegment.segment_id == segment.id).order_by(CertificateType.name)))


def markets(session: Session, workspace_id: int) -> list[Segment]:
    return list(session.exec(select(Segment).where(Segment.workspace_id == workspace_id,
                                                   Segment.kind == SegmentKind.MARKET.value)
                             .order_by(Segment.name)))


def _domains(email: str) -> list[str]:
    """`ana@mail.corp.com` -> ['mail.corp.com', 'corp.com']: a group listing corp.com includes subdomains."""
    domain = email.rsplit("@", 1)[-1]
    parts = domain.split(".")
    return [".".join(parts[i:]) for i in range(len(parts) - 1)]


def visitor_segments(session: Session, workspace_id: int, visitor: Visitor) -> set[int]:
    """The ids of the segments this visitor belongs to."""
    found: set[int] = set()
    email = (visitor.email or "").strip().lower()
    if email and "@" in email:
        rows = session.exec(select(SegmentMember.segment_id).where(
            SegmentMember.workspace_id == workspace_id,
            sa.or_(sa.and_(SegmentMember.kind == "email", SegmentMember.value == email),
                   sa.and_(SegmentMember.kind == "domain", SegmentMember.value.in_(_domains(email))))))
        found.update(rows)
    market = normalize_market(visitor.market)
    if market:
        found.update(session.exec(select(Segment.id).where(Segment.workspace_id == workspace_id,
                                                           Segment.market_code == market)))
    return found


# --- certificate types -----------------------------------------------------------------------

def list_types(session: Session, workspace_id: int, *, active_only: bool = False) -> list[CertificateType]:
    query = select(CertificateType).where(CertificateType.workspace_id == workspace_id)
    if active_only:
        query = query.where(CertificateType.active.is_(True))
    return list(session.exec(query.order_by(CertificateType.position, CertificateType.name, CertificateType.id)))


def get_type(session: Session, workspace_id: int, type_id) -> CertificateType:
    tid = parse_id(type_id)
    ctype = None if tid is None else session.exec(
        select(CertificateType).where(CertificateType.id == tid, CertificateType.workspace_id == workspace_id)).first()
    if ctype is None:
        raise NotFound("Certificate type not found.")
    return ctype


def type_segment_ids(session: Session, workspace_id: int) -> dict[int, set[int]]:
    """Certificate type id -> the segment ids allowed to buy it (absent: everyone)."""
    allowed: dict[int, set[int]] = {}
    for type_id, segment_id in session.exec(select(CertificateTypeSegment.certificate_type_id,
                                                   CertificateTypeSegment.segment_id)
                                            .where(CertificateTypeSegment.workspace_id == workspace_id)):
        allowed.setdefault(type_id, set()).add(segment_id)
    return allowed


def available_types(session: Session, workspace: Workspace, visitor: Visitor) -> list[CertificateType]:
    """The active types this visitor may buy, in display order."""
    allowed = type_segment_ids(session, workspace.id)
    mine = visitor_segments(session, workspace.id, visitor)
    return [t for t in list_types(session, workspace.id, active_only=True)
            if not allowed.get(t.id) or allowed[t.id] & mine]


def check_can_buy(session: Session, workspace: Workspace, type_id, visitor: Visitor) -> CertificateType:
    """The type, if this visitor may buy it now; otherwise a clear refusal."""
    try:
        ctype = get_type(session, workspace.id, type_id)
    except NotFound:
        raise NotEligible("This certificate is not available. Please choose one of the certificates shown.")
    if not ctype.active:
        raise NotEligible(f"“{ctype.name}” is no longer on sale. Please choose another certificate.")
    allowed = type_segment_ids(session, workspace.id).get(ctype.id)
    if allowed and not allowed & visitor_segments(session, workspace.id, visitor):
        raise NotEligible(f"“{ctype.name}” is reserved for selected customers or markets, and the email address "
                          "or market given does not qualify. Please choose another certificate.")
    return ctype


def bounds(workspace: Workspace, ctype: CertificateType | None) -> tuple[int, int]:
    """The amounts allowed for this type: its own bounds, never wider than the workspace's."""
    low, high = workspace.min_amount_cents, workspace.max_amount_cents
    if ctype is not None:
        low = max(low, ctype.min_amount_cents or low)
        high = min(high, ctype.max_amount_cents or high)
    return low, high


def presets(workspace: Workspace, ctype: CertificateType | None) -> list[int]:
    low, high = bounds(workspace, ctype)
    text = (ctype.preset_amounts if ctype is not None and ctype.preset_amounts else workspace.preset_amounts) or ""
    values = [int(p) for p in text.split(",") if p.strip().isdigit()]
    return [v for v in values if low <= v <= high]


def _optional_money(text: str | None, currency: str, field: str, label: str, errors: dict[str, str],
                    locale: str) -> int | None:
    raw = (text or "").strip()
    if not raw:
        return None
    try:
        return money.parse_amount(raw, currency, field=field, locale=locale)
    except ValidationError as exc:
        errors[field] = (exc.message.replace("an amount", f"the {label}").replace("the amount", f"the {label}")
                                       .replace("The amount", f"The {label}"))
        return None


def save_type(session: Session, workspace: Workspace, *, type_id=None, name: str | None,
              description: str | None = "", accent_color: str | None = "", image_url: str | None = "",
              preset_amounts: str | None = "", min_amount: str | None = "", max_amount: str | None = "",
              active: bool = True, segment_ids: Iterable = ()) -> CertificateType:
    """Create or change a certificate type; every problem is reported at once."""
    errors: dict[str, str] = {}
    ctype = get_type(session, workspace.id, type_id) if type_id else None
    name = clean_text(name)
    if not name:
        errors["name"] = "Enter a name for the certificate type."
    elif len(name) > 100:
        errors["name"] = "The name must be at most 100 characters."
    elif session.exec(select(CertificateType.id).where(CertificateType.workspace_id == workspace.id,
                                                       CertificateType.name == name,
                                                       CertificateType.id != (ctype.id if ctype else 0))).first():
        errors["name"] = f"A certificate type named “{name}” already exists."
    description = clean_text(description, multiline=True)
    if len(description) > 1000:
        errors["description"] = "The description must be at most 1000 characters."
    color = (accent_color or "").strip()
    if color and not COLOR.match(color):
        errors["accent_color"] = "Enter a colour like #0f766e, or leave it empty."
    image = (image_url or "").strip()
    if image and (len(image) > 500 or not re.match(r"^https://[^\s\"'<>]+$", image)):
        errors["image_url"] = "Enter an https:// address of an image, or leave it empty."
    currency = workspace.currency
    low = _optional_money(min_amount, currency, "min_amount", "minimum amount", errors, workspace.locale)
    high = _optional_money(max_amount, currency, "max_amount", "maximum amount", errors, workspace.locale)
    eff_low = max(workspace.min_amount_cents, low or 0)
    eff_high = min(workspace.max_amount_cents, high or workspace.max_amount_cents)
    wmin = money.format_money(workspace.min_amount_cents, currency)
    wmax = money.format_money(workspace.max_amount_cents, currency)
    if low is not None and not workspace.min_amount_cents <= low <= workspace.max_amount_cents:
        errors["min_amount"] = f"The minimum must lie within the workspace's bounds ({wmin} to {wmax})."
    if high is not None and not workspace.min_amount_cents <= high <= workspace.max_amount_cents:
        errors["max_amount"] = f"The maximum must lie within the workspace's bounds ({wmin} to {wmax})."
    if low is not None and high is not None and low > high:
        errors["max_amount"] = "The maximum amount must be at least the minimum amount."
    preset_values: list[int] = []
    parts = money.split_amounts(preset_amounts, workspace.locale)
    if len(parts) > MAX_PRESETS:
        errors["preset_amounts"] = f"Offer at most {MAX_PRESETS} preset amounts."
    else:
        for part in parts:
            try:
                cents = money.parse_amount(part, currency, field="preset_amounts", locale=workspace.locale)
            except ValidationError:
                errors["preset_amounts"] = f"“{part[:20]}” is not an amount. {money.list_hint(workspace.locale)}"
                break
            if not eff_low <= cents <= eff_high:
                errors["preset_amounts"] = "Every preset amount must lie between this type's minimum and maximum."
                break
            preset_values.append(cents)
    wanted: set[int] = set()
    for raw in segment_ids:
        seg = get_segment(session, workspace.id, raw) if parse_id(raw) else None
        if seg is None:
            errors["segments"] = "Choose segments of this workspace only."
            break
        wanted.add(seg.id)
    if errors:
        raise ValidationError(errors)
    if ctype is None:
        position = session.exec(select(sa.func.coalesce(sa.func.max(CertificateType.position), 0))
                                .where(CertificateType.workspace_id == workspace.id)).one()
        ctype = CertificateType(workspace_id=workspace.id, position=position + 1, name=name)
    printed_before = (ctype.name, ctype.accent_color) if ctype.id else None
    ctype.name, ctype.description, ctype.accent_color, ctype.image_url = name, description, color, image
    ctype.min_amount_cents, ctype.max_amount_cents, ctype.active = low, high, bool(active)
    ctype.preset_amounts = ",".join(str(v) for v in sorted(set(preset_values)))
    session.add(ctype)
    session.flush()
    if printed_before is not None and printed_before != (ctype.name, ctype.accent_color):
        forget_pdfs(session, workspace_id=workspace.id, certificate_type_id=ctype.id)  # PDFs print both
    session.execute(sa.delete(CertificateTypeSegment).where(CertificateTypeSegment.certificate_type_id == ctype.id))
    session.add_all([CertificateTypeSegment(certificate_type_id=ctype.id, segment_id=sid, workspace_id=workspace.id)
                     for sid in sorted(wanted)])
    session.flush()
    return ctype
