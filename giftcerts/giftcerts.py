import reflex as rx
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route


async def health(request):
    return JSONResponse({"ok": True})


class S(rx.State):
    n: int = 0

    @rx.event
    def inc(self):
        self.n += 1


def index():
    return rx.vstack(rx.heading("hello"), rx.button("inc", on_click=S.inc), rx.text(S.n))


app = rx.App(api_transformer=Starlette(routes=[Route("/api/v1/health", health)]))
app.add_page(index)
