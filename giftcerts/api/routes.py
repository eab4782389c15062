"""Every Starlette route of the app, mounted into Reflex through `api_transformer`."""

from starlette.responses import JSONResponse
from starlette.routing import Route


async def health(_request):
    return JSONResponse({"status": "ok"})


def routes() -> list[Route]:
    return [Route("/api/v1/health", health)]
