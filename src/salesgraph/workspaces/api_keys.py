"""API key tokens: how they are made, parsed and checked. Only a digest of the secret is stored.

A token reads `sg_<workspace and key id, base64url>_<secret>`. The ids let the server find the
key by its primary key (which leads with the workspace, as every key does) without an index on
the secret; the secret is compared with its stored SHA-256 digest in constant time. Secrets are
256-bit random values, so a fast hash is enough (no password stretching needed).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass

from salesgraph.workspaces.models import Scope

PREFIX = "sg_"
IDS_LENGTH = 43  # two UUIDs, base64url without padding


@dataclass(frozen=True, slots=True)
class ParsedToken:
    workspace_id: uuid.UUID
    key_id: uuid.UUID
    secret: str


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def secret_matches(secret: str, stored_digest: bytes) -> bool:
    return hmac.compare_digest(digest(secret), stored_digest)


def format_token(workspace_id: uuid.UUID, key_id: uuid.UUID, secret: str) -> str:
    ids = base64.urlsafe_b64encode(workspace_id.bytes + key_id.bytes).rstrip(b"=").decode()
    return f"{PREFIX}{ids}_{secret}"


def parse_token(token: str) -> ParsedToken | None:
    """The parts of a token, or None when it is not one of ours."""
    if not token.startswith(PREFIX) or len(token) > 200:
        return None
    body = token[len(PREFIX) :]
    ids, separator, secret = (
        body[:IDS_LENGTH],
        body[IDS_LENGTH : IDS_LENGTH + 1],
        body[IDS_LENGTH + 1 :],
    )
    if separator != "_" or len(ids) != IDS_LENGTH or not secret:
        return None
    try:
        raw = base64.urlsafe_b64decode(ids + "=")
    except ValueError:
        return None
    if len(raw) != 32:
        return None
    return ParsedToken(uuid.UUID(bytes=raw[:16]), uuid.UUID(bytes=raw[16:]), secret)


IMPLIED_SCOPES: dict[Scope, frozenset[Scope]] = {
    Scope.ADMIN: frozenset({Scope.ADMIN, Scope.WRITE, Scope.READ}),
    Scope.WRITE: frozenset({Scope.WRITE, Scope.READ}),
    Scope.READ: frozenset({Scope.READ}),
}


def effective_scopes(scopes: list[str]) -> frozenset[Scope]:
    """The granted scopes with those they imply: admin includes write, write includes read."""
    granted: set[Scope] = set()
    for scope in scopes:
        granted |= IMPLIED_SCOPES[Scope(scope)]
    return frozenset(granted)
