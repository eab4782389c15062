"""Streamed CSV downloads for signed-in staff: the filtered certificates list and the
Overview's figures.

Authority is the staff session cookie (`gc_session`), checked exactly like the dashboard
checks it (`accounts.resolve_session`); the workspace comes from that session, never from
the request, so a query string cannot reach another workspace. Any role may export what
it may see. Unknown or ended sessions get 401.
"""

from __future__ import annotations

from datetime import date

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from giftcerts import db
from giftcerts.api.staff_sessions import token_of
from giftcerts.core import accounts, exports, reports, workspaces
from giftcerts.core.accounts import Principal
from giftcerts.core.errors import DomainError
from giftcerts.models import Workspace

CERTIFICATES_CSV = "/exports/certificates.csv"
OVERVIEW_CSV = "/exports/overview.csv"
_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


def _staff(request: Request) -> tuple[Principal, Workspace] | None:
    with db.read_session() as session:
        principal = accounts.resolve_session(session, token_of(request))
        if principal is None:
            return None
        return principal, workspaces.get_workspace(session, principal.workspace_id)


def _refused() -> Response:
    return PlainTextResponse("Sign in to the dashboard to export.", status_code=401, headers=_HEADERS)


def _attachment(name: str) -> dict[str, str]:
    return {**_HEADERS, "Content-Disposition": f'attachment; filename="{name}"'}


async def certificates_csv(request: Request) -> Response:
    if request.method not in ("GET", "HEAD"):
        return PlainTextResponse("Method not allowed.", status_code=405, headers={"Allow": "GET"})
    staff = await run_in_threadpool(_staff, request)
    if staff is None:
        return _refused()
    _, ws = staff
    params = request.query_params
    chunks = exports.certificates_csv(db.read_session, ws, query=params.get("q", "")[:254],
                                      status=params.get("status", "all")[:16])
    # A sync iterator: Starlette runs each step in its thread pool and streams it out.
    return StreamingResponse(chunks, media_type="text/csv; charset=utf-8",
                             headers=_attachment(f"certificates-{ws.slug}-{date.today().isoformat()}.csv"))


def _overview_rows(ws: Workspace, params) -> list[list[str]] | str:
    try:
        period = reports.resolve_period(params.get("period", "month"), ws.timezone,
                                        start=params.get("start"), end=params.get("end"))
    except DomainError as exc:
        return exc.message
    filters = reports.Filters.parse(params.get("type"), params.get("source"))
    with db.read_session() as session:
        figures = reports.overview(session, ws, period, filters)
        names = exports.type_names(session, ws.id)
    type_label = ("All types" if filters.type_id is None else "No type" if filters.type_id == 0
                  else names.get(filters.type_id, "Unknown type"))
    return exports.report_rows(figures, ws, type_label=type_label,
                               source_label=reports.SOURCES.get(filters.source or "all", "All sources"))


async def overview_csv(request: Request) -> Response:
    if request.method not in ("GET", "HEAD"):
        return PlainTextResponse("Method not allowed.", status_code=405, headers={"Allow": "GET"})
    staff = await run_in_threadpool(_staff, request)
    if staff is None:
        return _refused()
    _, ws = staff
    rows = await run_in_threadpool(_overview_rows, ws, request.query_params)
    if isinstance(rows, str):
        return PlainTextResponse(rows, status_code=422, headers=_HEADERS)
    body = "\ufeff".encode() + exports.csv_lines(rows)
    return Response(body, media_type="text/csv; charset=utf-8",
                    headers=_attachment(f"overview-{ws.slug}-{date.today().isoformat()}.csv"))


def routes() -> list[Route]:
    return [Route(CERTIFICATES_CSV, certificates_csv, methods=["GET", "HEAD", "POST", "PUT", "DELETE"]),
            Route(OVERVIEW_CSV, overview_csv, methods=["GET", "HEAD", "POST", "PUT", "DELETE"])]
