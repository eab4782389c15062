"""Render a certificate as a PDF.

Every value comes from the database and may hold anything a purchaser typed, so the template
is autoescaped, and WeasyPrint gets a URL fetcher that refuses every URL except the one QR-code
image this module generated for this document (served from memory): no input can make
WeasyPrint read a local file or call a server (SSRF). Colours are validated before use.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import segno
from jinja2 import Environment, FileSystemLoader, select_autoescape
from weasyprint import CSS, HTML
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import URLFetcher, URLFetcherResponse

from giftcerts.clock import format_date
from giftcerts.core import money
from giftcerts.core.codes import format_code
from giftcerts.models import Certificate, CertificateType, Workspace

DEFAULT_ACCENT = "#0f766e"
_HEX = re.compile(r"^#[0-9a-fA-F]{6}$")
TERMS = ("Redeemable in full on one booking with {workspace} until the date above. Not exchangeable for cash. "
         "Keep this code private: anyone who has it can use it.")

_env = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
)


class RefusingFetcher(URLFetcher):
    """WeasyPrint's fetcher for our documents: nothing is fetched, ever. `embedded` maps the
    exact URIs of images we generated ourselves to their bytes, served from memory."""

    def __init__(self, embedded: dict[str, tuple[bytes, str]] | None = None):
        super().__init__()
        self._embedded = embedded or {}

    def fetch(self, url, headers=None):  # noqa: ARG002 - WeasyPrint's signature
        if url in self._embedded:
            content, mime = self._embedded[url]
            return URLFetcherResponse(url, content, {"Content-Type": mime}, 200)
        raise ValueError(f"refused to fetch {url[:80]!r}: certificate documents use no external resources")


def booking_link(workspace: Workspace, code: str) -> str:
    """The workspace's booking page with the code filled in (the QR code opens it); "" when the
    workspace has not said where it takes bookings, and then there is no QR code to scan."""
    base = (workspace.booking_url or "").strip()
    if not base:
        return ""
    if "{code}" in base:
        return base.replace("{code}", quote(code))
    return base + ("&" if "?" in base else "?") + "gift_certificate=" + quote(code)


@dataclass(frozen=True)
class Fields:
    workspace_name: str
    certificate_type: str
    amount: str
    recipient_name: str
    purchaser_name: str
    message: str
    code: str
    expires_on: str
    accent: str
    booking_link: str
    status_note: str


def fields(cert: Certificate, workspace: Workspace, cert_type: CertificateType | None = None) -> Fields:
    accent = (cert_type.accent_color if cert_type else "") or DEFAULT_ACCENT
    note = {"voided": "VOIDED — this certificate cannot be used.",
            "refunding": "Being cancelled and refunded — this certificate cannot be used.",
            "redeemed": "Already redeemed.", "expired": "Expired."}.get(cert.status, "")
    return Fields(
        workspace_name=workspace.name,
        certificate_type=cert_type.name if cert_type else "Gift certificate",
        amount=money.format_money(cert.amount_cents, cert.currency),
        recipient_name=cert.recipient_name,
        purchaser_name=cert.purchaser_name,
        message=cert.message or "",
        code=format_code(cert.code),
        expires_on=format_date(cert.expires_at, workspace.timezone) or "—",
        accent=accent if _HEX.match(accent) else DEFAULT_ACCENT,
        booking_link=booking_link(workspace, format_code(cert.code)),
        status_note=note,
    )


QR_URI = "giftcerts-embedded:qr.png"  # not a fetchable scheme; only our fetcher knows it


def qr_png(link: str) -> bytes:
    out = io.BytesIO()
    # A fixed mask pattern: every mask gives a valid code; scoring all eight (segno's default)
    # costs more than the rest of the QR code together. One pixel per module: the PDF scales it
    # up without smoothing (image-rendering: pixelated), and WeasyPrint re-encodes 36x fewer pixels.
    segno.make(link, error="m", mask=0).save(out, kind="png", scale=1, border=0, dark="#1f2328")
    return out.getvalue()


def render_html(f: Fields) -> str:
    return _env.get_template("certificate.html").render(
        **f.__dict__, qr_src=QR_URI, terms=TERMS.format(workspace=f.workspace_name),
    )


class CertificateHTML(HTML):
    """An HTML document styled by our small user-agent stylesheet (templates/ua.css) instead of
    WeasyPrint's full HTML5 one, whose cascade cost a fifth of every PDF."""

    def _ua_stylesheets(self, forms=False):  # noqa: ARG002 - WeasyPrint's hook, pinned version
        return [_stylesheet()[2]]


_style: tuple[FontConfiguration, CSS, CSS] | None = None


def _stylesheet() -> tuple[FontConfiguration, CSS, CSS]:
    """The stylesheets are parsed once per process, with one font configuration:
    (fonts, the certificate's stylesheet, the user-agent stylesheet)."""
    global _style
    if _style is None:
        fonts = FontConfiguration()
        templates = Path(__file__).parent / "templates"
        css, ua = (CSS(string=(templates / name).read_text(), font_config=fonts, url_fetcher=RefusingFetcher())
                   for name in ("certificate.css", "ua.css"))
        _style = (fonts, css, ua)
    return _style


def render_pdf(cert: Certificate, workspace: Workspace, cert_type: CertificateType | None = None) -> bytes:
    f = fields(cert, workspace, cert_type)
    fonts, css, _ua = _stylesheet()
    fetcher = RefusingFetcher({QR_URI: (qr_png(f.booking_link), "image/png")} if f.booking_link else {})
    return CertificateHTML(string=render_html(f), base_url=None, url_fetcher=fetcher).write_pdf(
        stylesheets=[css], font_config=fonts)
