"""The JSON API, called through Starlette's TestClient (no Reflex build needed), once on
SQLite and once on PostgreSQL (the `db_url` fixture of tests/conftest.py)."""

from __future__ import annotations

import itertools
import warnings
from dataclasses import dataclass

import pytest
from starlette.applications import Starlette

with warnings.catch_warnings():  # Starlette 1.x prefers the `httpx2` fork; plain httpx works the same here
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from giftcerts import db, ratelimit
from giftcerts.api.routes import routes
from giftcerts.core import apikeys, redemption
from giftcerts.models import Workspace
from tests.factories import make_certificate, make_workspace

_refs = itertools.count(1)


@dataclass
class Tenant:
    """A workspace and a key for it, with shortcuts to set up data through the core."""

    db_url: str
    workspace: Workspace
    key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}

    def certificate(self, **fields):
        with db.write_session(self.db_url) as s:
            return make_certificate(s, s.get(Workspace, self.workspace.id), **fields)

    def order(self, total: int = 50000, reference: str | None = None, currency: str | None = None):
        with db.write_session(self.db_url) as s:
            ws = s.get(Workspace, self.workspace.id)
            return redemption.create_order(s, ws, reference=reference or f"BK-{next(_refs)}",
                                           total_cents=total, currency=currency)


class Api:
    """A TestClient that sends a tenant's key unless told otherwise."""

    def __init__(self, client: TestClient, tenant: Tenant):
        self.client = client
        self.tenant = tenant

    def _headers(self, key, idempotency_key, headers):
        out = dict(headers or {})
        if key is not None:
            out["Authorization"] = f"Bearer {key}"
        elif "Authorization" not in out:
            out.update(self.tenant.headers)
        if idempotency_key is not None:
            out["Idempotency-Key"] = idempotency_key
        return out

    def get(self, path, *, key=None, headers=None, **kw):
        return self.client.get(path, headers=self._headers(key, None, headers), **kw)

    def post(self, path, json=None, *, key=None, idempotency_key=None, headers=None, **kw):
        return self.client.post(path, json=json, headers=self._headers(key, idempotency_key, headers), **kw)

    def request(self, method, path, **kw):
        return self.client.request(method, path, **kw)


def new_tenant(db_url: str, **settings) -> Tenant:
    with db.write_session(db_url) as s:
        ws = make_workspace(s, **settings)
        _, key = apikeys.create_api_key(s, ws, name="Booking platform")
    return Tenant(db_url=db_url, workspace=ws, key=key)


@pytest.fixture
def app(db_url, monkeypatch):
    monkeypatch.setenv("REFLEX_DB_URL", db_url)
    monkeypatch.setenv("GIFTCERTS_PUBLIC_URL", "https://gifts.example.com")
    ratelimit.reset()
    yield Starlette(routes=routes())
    ratelimit.reset()


@pytest.fixture
def tenant(db_url) -> Tenant:
    return new_tenant(db_url)


@pytest.fixture
def other(db_url) -> Tenant:
    """Another tour operator on the same installation."""
    return new_tenant(db_url)


@pytest.fixture
def api(app, tenant) -> Api:
    return Api(TestClient(app, client=("203.0.113.10", 50000)), tenant)


def assert_error(response, status: int, code: str) -> dict:
    """The one error shape of the API: {"error": {"code", "message"}} with a fitting status."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert error["code"] == code, error
    assert isinstance(error["message"], str) and error["message"]
    assert set(error) <= {"code", "message", "fields"}
    return error
