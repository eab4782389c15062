"""Bearer API keys: the key decides the workspace; nothing in the request can."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlmodel import Session

from giftcerts import db
from giftcerts.api.errors import Unauthenticated
from giftcerts.core import apikeys
from giftcerts.models import Workspace


@dataclass(frozen=True)
class Caller:
    """An authenticated request: its key and workspace. The workspace row is loaded only
    when an operation asks for it (the redemption fast path needs its id alone)."""

    key: apikeys.KeyIdentity
    address: str
    session: Session = field(repr=False, compare=False)

    @property
    def workspace_id(self) -> int:
        return self.key.workspace_id

    @property
    def workspace(self) -> Workspace:
        workspace = self.session.get(Workspace, self.key.workspace_id)  # once per session: the identity map
        if workspace is None:  # the foreign key makes this impossible; refuse rather than guess
            raise Unauthenticated()
        return workspace

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


def identify(url: str, authorization: str | None) -> apikeys.KeyIdentity:
    """The request's key, before any transaction opens: usually from the process's cache (no
    query), else read in a read-only session of its own."""
    token = bearer_token(authorization)
    key = apikeys.cached(token)
    if key is None:
        with db.read_session(url) as session:
            key = apikeys.identify(session, token)
    if key is None:
        raise Unauthenticated()
    return key
