"""Certificate types: what the portal sells, and which of them a visitor is offered.

A certificate type (name, description, accent colour or image, its own preset amounts and
optional narrower bounds) may be restricted to segments (giftcerts.core.segments); a type with
no segments is for everyone, a restricted one for visitors in at least one of its segments.
The portal shows what `offer` decides, and the purchase is checked again on the server at
payment time (`check_can_buy`, from giftcerts.core.purchases).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import Session, select

from giftcerts.core import money, segments
from giftcerts.core.documents import forget_pdfs
from giftcerts.core.errors import DomainError, NotFound, ValidationError
from giftcerts.core.ids import parse_id
from giftcerts.core.scoped import get_in_workspace
from giftcerts.core.segments import Visitor
from giftcerts.core.validation import clean_text
from giftcerts.models import CertificateType, CertificateTypeSegment, Workspace

COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
MAX_PRESETS = 8


class NotEligible(DomainError):
    """The visitor may not buy this certificate type (segment restriction)."""

    code = "not_eligible"


def list_types(session: Session, workspace_id: int, *, active_only: bool = False) -> list[CertificateType]:
    query = select(CertificateType).where(CertificateType.workspace_id == workspace_id)
    if active_only:
        query = query.where(CertificateType.active.is_(True))
    return list(session.exec(query.order_by(CertificateType.position, CertificateType.name, CertificateType.id)))


def get_type(session: Session, workspace_id: int, type_id) -> CertificateType:
    return get_in_workspace(session, CertificateType, workspace_id, type_id, not_found="Certificate type not found.")


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
    mine = segments.visitor_segments(session, workspace.id, visitor)
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
    if allowed and not allowed & segments.visitor_segments(session, workspace.id, visitor):
        raise NotEligible(f"“{ctype.name}” is reserved for selected customers or markets, and the email address "
                          "or market given does not qualify. Please choose another certificate.")
    return ctype


@dataclass(frozen=True)
class OfferedType:
    ctype: CertificateType
    from_cents: int  # the lowest amount it sells for


@dataclass(frozen=True)
class Offer:
    """What the portal offers a visitor: the types, the one chosen, its amounts."""

    types: list[OfferedType]
    sells_types: bool  # the workspace has types on sale at all; if not, one plain certificate
    chosen: CertificateType | None
    withdrawn: bool  # the type asked for is not (or no longer) offered to this visitor
    low: int
    high: int
    presets: list[int]
    amount_error: str  # why the amount typed so far would be refused; '' when it is fine or empty


def offer(session: Session, workspace: Workspace, visitor: Visitor, *, type_id="", amount: str = "") -> Offer:
    """The types this visitor may buy (by purchaser email and market), the chosen one (the one
    asked for if offered, else the first) and the amounts allowed for it."""
    offered = available_types(session, workspace, visitor)
    by_id = {str(t.id): t for t in offered}
    asked = str(type_id or "")
    chosen = by_id.get(asked) or (offered[0] if offered else None)
    low, high = bounds(workspace, chosen)
    amount_error = ""
    if (amount or "").strip():
        try:
            cents = money.parse_amount(amount, workspace.currency, locale=workspace.locale)
            money.check_bounds(cents, minimum=low, maximum=high, currency=workspace.currency)
        except ValidationError as exc:
            amount_error = exc.message
    return Offer(
        types=[OfferedType(t, bounds(workspace, t)[0]) for t in offered],
        sells_types=bool(offered) or bool(list_types(session, workspace.id, active_only=True)),
        chosen=chosen, withdrawn=bool(asked) and asked not in by_id,
        low=low, high=high, presets=presets(workspace, chosen), amount_error=amount_error)


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
        seg = segments.get_segment(session, workspace.id, raw) if parse_id(raw) else None
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
