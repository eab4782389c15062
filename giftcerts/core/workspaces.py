"""Workspaces (one tour operator each) and their settings."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit
from zoneinfo import available_timezones

from sqlmodel import Session, select

from giftcerts.core import action_defaults, money
from giftcerts.core.documents import forget_pdfs
from giftcerts.core.errors import NotFound, ValidationError
from giftcerts.core.validation import clean_text
from giftcerts.models import Certificate, Workspace

SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
MAX_EXPIRY_DAYS = 3650
MAX_PRESETS = 8
MAX_EMBED_ORIGINS = 10
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "[::1]"})
_HOST = re.compile(r"^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")


def get_workspace(session: Session, workspace_id: int) -> Workspace:
    ws = session.get(Workspace, workspace_id)
    if ws is None:
        raise NotFound("Workspace not found.")
    return ws


def find_workspace(session: Session, slug: str) -> Workspace | None:
    return session.exec(select(Workspace).where(Workspace.slug == slug)).first()


def create_workspace(
    session: Session, *, slug: str, name: str, currency: str = "USD", timezone: str = "UTC"
) -> Workspace:
    errors: dict[str, str] = {}
    slug = (slug or "").strip().lower()
    if not SLUG.match(slug):
        errors["slug"] = "Use 1 to 63 lower-case letters, digits and dashes for the workspace slug."
    elif find_workspace(session, slug) is not None:
        errors["slug"] = f"The workspace “{slug}” already exists."
    name = clean_text(name) or slug
    if not money.valid_currency(currency):
        errors["currency"] = "Choose a valid ISO 4217 currency code, such as USD or EUR."
    if timezone not in available_timezones():
        errors["timezone"] = "Choose a valid timezone, such as Europe/Paris."
    if errors:
        raise ValidationError(errors)
    exponent = money.currency_exponent(currency)
    unit = 10**exponent
    ws = Workspace(
        slug=slug, name=name[:200], currency=currency, timezone=timezone,
        min_amount_cents=25 * unit, max_amount_cents=1000 * unit,
        preset_amounts=",".join(str(v * unit) for v in (50, 100, 250)),
    )
    session.add(ws)
    session.flush()
    action_defaults.create_defaults(session, ws)  # certificate to recipient, receipt, expiry reminder
    return ws


@dataclass(frozen=True)
class SettingsChange:
    portal_enabled: bool
    min_amount_cents: int
    max_amount_cents: int
    expiry_days: int
    currency: str
    timezone: str
    preset_amounts: str
    embed_origins: str | None = None  # None: leave unchanged
    locale: str | None = None  # the number format; None: leave unchanged


def validate_settings(
    *,
    portal_enabled: bool,
    min_amount: str,
    max_amount: str,
    expiry_days: str | int,
    currency: str,
    timezone: str,
    preset_amounts: str = "",
    embed_origins: str | None = None,
    number_format: str | None = None,
    locale: str = money.DEFAULT_LOCALE,
) -> SettingsChange:
    """Check a settings form as a whole; every problem is reported at once.

    The amounts are read in `locale`, the number format the form showed them in (the
    workspace's); a new `number_format` applies from the next form on."""
    errors: dict[str, str] = {}
    if number_format is not None and not money.valid_number_format(number_format):
        errors["number_format"] = ("Choose a number format from the list: "
                                   + ", ".join(money.NUMBER_FORMATS.values()) + ".")
        number_format = None
    currency = (currency or "").strip().upper()
    if not money.valid_currency(currency):
        errors["currency"] = "Choose a valid ISO 4217 currency code, such as USD or EUR."
        currency = "USD"
    minimum = _money_field(min_amount, currency, "min_amount", "minimum amount", errors, locale)
    maximum = _money_field(max_amount, currency, "max_amount", "maximum amount", errors, locale)
    if minimum and maximum and minimum > maximum:
        errors["max_amount"] = "The maximum amount must be at least the minimum amount."
    days = _days(expiry_days, errors)
    if timezone not in available_timezones():
        errors["timezone"] = "Choose a valid timezone, such as Europe/Paris."
    presets = _presets(preset_amounts, currency, minimum, maximum, errors, locale)
    origins = None if embed_origins is None else clean_embed_origins(embed_origins, errors)
    if errors:
        raise ValidationError(errors)
    return SettingsChange(
        portal_enabled=bool(portal_enabled), min_amount_cents=minimum, max_amount_cents=maximum,
        expiry_days=days, currency=currency, timezone=timezone, preset_amounts=presets,
        embed_origins=origins, locale=number_format,
    )


def _money_field(text: str, currency: str, field: str, label: str, errors: dict[str, str], locale: str) -> int:
    try:
        return money.parse_amount(text, currency, field=field, locale=locale)
    except ValidationError as exc:
        errors[field] = (exc.message.replace("an amount", f"the {label}").replace("the amount", f"the {label}")
                         .replace("The amount", f"The {label}"))
        return 0


def _days(value: str | int, errors: dict[str, str]) -> int:
    text = str(value).strip()
    # ASCII digits only: "²".isdigit() is true but int("²") raises.
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= MAX_EXPIRY_DAYS:
        errors["expiry_days"] = f"Enter a whole number of days from 1 to {MAX_EXPIRY_DAYS}."
        return 0
    return int(text)


def _presets(text: str, currency: str, minimum: int, maximum: int, errors: dict[str, str], locale: str) -> str:
    parts = money.split_amounts(text, locale)
    if len(parts) > MAX_PRESETS:
        errors["preset_amounts"] = f"Offer at most {MAX_PRESETS} preset amounts."
        return ""
    values: list[int] = []
    for part in parts:
        try:
            cents = money.parse_amount(part, currency, field="preset_amounts", locale=locale)
        except ValidationError:
            errors["preset_amounts"] = f"“{part[:20]}” is not an amount. {money.list_hint(locale)}"
            return ""
        if minimum and maximum and not minimum <= cents <= maximum:
            errors["preset_amounts"] = "Every preset amount must lie between the minimum and the maximum."
            return ""
        values.append(cents)
    return ",".join(str(v) for v in sorted(set(values)))


def apply_settings(session: Session, workspace: Workspace, change: SettingsChange) -> Workspace:
    if change.currency != workspace.currency and session.exec(
            select(Certificate.id).where(Certificate.workspace_id == workspace.id).limit(1)).first() is not None:
        # totals and reports add amounts up in the workspace's currency
        raise ValidationError({"currency": "The currency is fixed once certificates have been issued in it "
                                           f"(this workspace's are in {workspace.currency})."})
    printed_before = workspace.timezone
    for field, value in change.__dict__.items():
        if value is None:  # a setting the form did not include
            continue
        setattr(workspace, field, value)
    session.add(workspace)
    session.flush()
    if workspace.timezone != printed_before:  # the PDFs print the expiry date in it
        forget_pdfs(session, workspace_id=workspace.id)
    return workspace


def preset_list(workspace: Workspace) -> list[int]:
    return [int(p) for p in workspace.preset_amounts.split(",") if p.strip().isdigit()]


# --- embedding the redemption widget ------------------------------------------------------

def normalize_origin(text: str) -> str | None:
    """`https://host[:port]` (or `http://` for localhost) without path, query or credentials,
    in the exact form a browser reports in `event.origin`; None if it is not such an origin."""
    raw = (text or "").strip()
    if not raw or len(raw) > 253 or not raw.isprintable() or "*" in raw:
        return None
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if parts.path not in ("", "/") or parts.query or parts.fragment or "@" in parts.netloc:
        return None
    host = (parts.hostname or "").lower()
    if host == "::1":
        host = "[::1]"
    elif host:
        try:
            host = host.encode("idna").decode("ascii")  # browsers report IDN hosts in punycode
        except UnicodeError:
            return None
    if not host or not (host in LOCAL_HOSTS or _HOST.match(host)):
        return None
    if scheme == "http" and host not in LOCAL_HOSTS:
        return None
    if scheme not in ("http", "https"):
        return None
    default_port = 443 if scheme == "https" else 80
    return f"{scheme}://{host}" + (f":{port}" if port is not None and port != default_port else "")


def clean_embed_origins(text: str | None, errors: dict[str, str], field: str = "embed_origins") -> str:
    """Space- or comma-separated origins allowed to embed the widget, stored space-separated."""
    entries = [e for e in re.split(r"[\s,]+", text or "") if e]
    if len(entries) > MAX_EMBED_ORIGINS:
        errors[field] = f"List at most {MAX_EMBED_ORIGINS} origins."
        return ""
    origins: list[str] = []
    for entry in entries:
        origin = normalize_origin(entry)
        if origin is None:
            errors[field] = (f"“{entry[:60]}” is not an origin. Use the booking site's address such as "
                             "https://booking.example.com, without a path (http:// only for localhost).")
            return ""
        if origin not in origins:
            origins.append(origin)
    return " ".join(origins)


def embed_origin_list(workspace: Workspace) -> list[str]:
    """The workspace's valid embed origins (anything malformed in the database is ignored)."""
    found: list[str] = []
    for entry in (workspace.embed_origins or "").split():
        origin = normalize_origin(entry)
        if origin and origin not in found:
            found.append(origin)
    return found
