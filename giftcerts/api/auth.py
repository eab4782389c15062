"""Bearer API keys: the key decides the workspace; nothing in the request can."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session

from giftcerts.api.errors import Unauthenticated
from giftcerts.core import apikeys
from giftcerts.models import ApiKey, Workspace


@dataclass(frozen=True)
class Caller:
    key: ApiKey
    workspace: Workspace
    address: str

    @property
    def actor(self) -> str:
        """How the activity log names changes made through this key."""
        return f"API key {self.key.prefix}…"


def bearer_token(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


def authenticate(session: Session, authorization: str | None, address: str) -> Caller:
    key = apikeys.authenticate(session, bearer_token(authorization))
    workspace = session.get(Workspace, key.workspace_id) if key is not None else None
    if key is None or workspace is None:
        raise Unauthenticated()
    return Caller(key=key, workspace=workspace, address=address)
