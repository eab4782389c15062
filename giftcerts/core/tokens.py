"""Secret tokens are stored only as their SHA-256: staff sessions, API keys, widget sessions,
portal confirmations. A leaked table then opens nothing, and a token still looks itself up in
one indexed equality (the tokens carry enough randomness that no salt or slow hash is needed)."""

from __future__ import annotations

import hashlib


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
