"""GET /certificates/pdf/<token>: the certificate PDF behind its unguessable link."""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from giftcerts.core import documents
from giftcerts.documents import store


async def download_pdf(request: Request) -> Response:
    token = request.path_params["token"]
    cert = await asyncio.to_thread(documents.find_by_token, token)
    if cert is None:
        return Response("Not found", status_code=404, media_type="text/plain",
                        headers={"Cache-Control": "no-store"})
    content = await asyncio.to_thread(store.get_or_render, cert.id)
    disposition = "attachment" if request.query_params.get("download") == "1" else "inline"
    return Response(content, media_type="application/pdf", headers={
        "Content-Disposition": f'{disposition}; filename="{documents.filename(cert)}"',
        "Cache-Control": "private, no-store",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
    })


def routes() -> list[Route]:
    return [Route(documents.PDF_PATH + "{token:str}", download_pdf, methods=["GET"])]
