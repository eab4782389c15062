"""Benchmark certificate PDFs: PDFs per second and median/p95 milliseconds each.

Renders N certificates (varied names, amounts, messages, codes) through the real
`giftcerts.documents.pdf.render_pdf` and, interleaved with them in the same run, a baseline: WeasyPrint rendering a
one-line HTML page with the same fonts (the floor any WeasyPrint document pays). Prints the
figures, the ratio to the baseline, and PASS/FAIL against the target (median <= 50 ms).
Each PDF is checked (starts with %PDF, contains its code) so that a fast wrong answer fails.

Usage:
    .venv/bin/python bench/pdf.py [--count N] [--warmup N]
"""

from __future__ import annotations

import argparse
import io
import os
import random
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pypdf  # noqa: E402
from weasyprint import HTML  # noqa: E402

from giftcerts.clock import utcnow  # noqa: E402
from giftcerts.core.codes import format_code, generate_code  # noqa: E402
from giftcerts.documents import pdf  # noqa: E402
from giftcerts.models import Certificate, CertificateType, Workspace  # noqa: E402

TARGET_MS = 50.0
NAMES = ["Ana Costa", "Benoît Dubois", "Chloé Müller", "Dmitri Ivanova", "Eva Nakamura", "Farid O'Brien"]
MESSAGES = ["", "Happy birthday! Enjoy an adventure on us.", "For the trip you keep talking about. " * 5,
            "<script>alert('x')</script> Merry Christmas!"]


def certificates(n: int, rng: random.Random):
    ws = Workspace(id=1, slug="bench", name="Alpine Tours & Safaris", currency="EUR", timezone="Europe/Paris",
                   booking_url="https://booking.example.com/?voucher={code}")  # with its QR code
    kind = CertificateType(id=1, workspace_id=1, name="Safari credit", accent_color="#b45309")
    for i in range(n):
        yield Certificate(
            id=i + 1, workspace_id=1, code=generate_code(), status="active",
            amount_cents=rng.choice([5000, 10000, 25000, 123456]), currency="EUR",
            purchaser_name=rng.choice(NAMES), purchaser_email="p@example.com",
            recipient_name=rng.choice(NAMES), recipient_email="r@example.com",
            message=rng.choice(MESSAGES), expires_at=utcnow() + timedelta(days=365),
        ), ws, (kind if i % 2 else None)


def timed(fn, n: int) -> list[float]:
    out = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1000)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=5)
    args = parser.parse_args()
    rng = random.Random(2026)

    from weasyprint.text.ffi import harfbuzz_subset  # noqa: PLC0415
    subsetter = "HarfBuzz" if harfbuzz_subset else "fontTools (install libharfbuzz-subset0 for ~10x faster PDFs)"
    fonts, _css, _ua = pdf._stylesheet()
    baseline_html = '<p style="font-family: DejaVu Sans">Gift certificate</p>'
    for cert, ws, kind in certificates(args.warmup, rng):
        pdf.render_pdf(cert, ws, kind)
        HTML(string=baseline_html).write_pdf(font_config=fonts)

    certs = list(certificates(args.count, rng))
    times, sizes, base = [], [], []
    wall = 0.0
    for cert, ws, kind in certs:  # interleaved with the baseline, so both see the same machine
        start = time.perf_counter()
        content = pdf.render_pdf(cert, ws, kind)
        elapsed = time.perf_counter() - start
        wall += elapsed
        times.append(elapsed * 1000)
        sizes.append(len(content))
        assert content.startswith(b"%PDF")
        base += timed(lambda: HTML(string=baseline_html).write_pdf(font_config=fonts), 1)
    for content_cert in certs[:5]:  # correctness spot-check (outside the timings)
        cert, ws, kind = content_cert
        text = pypdf.PdfReader(io.BytesIO(pdf.render_pdf(cert, ws, kind))).pages[0].extract_text()
        assert format_code(cert.code) in text, "the code is missing from the PDF"

    med, p95 = statistics.median(times), sorted(times)[int(len(times) * 0.95) - 1]
    bmed = statistics.median(base)
    print(f"certificate PDFs: {args.count} rendered in {wall:.2f} s on {os.cpu_count()} CPU(s); "
          f"font subsetting: {subsetter}")
    print(f"  {'':28} {'median ms':>10} {'p95 ms':>8} {'PDFs/s':>8} {'vs baseline':>12}")
    print(f"  {'certificate (render_pdf)':28} {med:10.1f} {p95:8.1f} {args.count / wall:8.1f} {med / bmed:11.1f}x")
    print(f"  {'baseline (one-line page)':28} {bmed:10.1f} {sorted(base)[int(len(base) * 0.95) - 1]:8.1f} "
          f"{1000 / statistics.mean(base):8.1f} {1.0:11.1f}x")
    print(f"  average size {statistics.mean(sizes) / 1024:.1f} KiB")
    ok = med <= TARGET_MS
    print(f"{'PASS' if ok else 'FAIL'}: median {med:.1f} ms per PDF (target <= {TARGET_MS:.0f} ms)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
