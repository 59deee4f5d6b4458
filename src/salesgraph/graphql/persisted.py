"""Persisted queries: Apollo's automatic persisted queries (APQ) and an optional allow-list.

A client names a query by the SHA-256 of its text, in the request's extensions:
`{"persistedQuery": {"version": 1, "sha256Hash": "<64 hex digits>"}}`. Without the text, a
known hash runs its query and an unknown one gets `PERSISTED_QUERY_NOT_FOUND`, after which an
Apollo client sends the hash again with the text; the text is checked against the hash and,
once it has parsed and validated, remembered in a bounded least-recently-used cache. A query
named by a hash alone is short enough for a GET, which is what lets a CDN cache it.

Registered operations come from a JSON file: either `{"<sha256>": "<query>", ...}` or an Apollo
persisted query manifest (`{"format": "apollo-persisted-query-manifest", "version": 1,
"operations": [{"id", "name", "type", "body"}, ...]}`). They are always known. In allow-list
mode only they run: a request whose hash or text is not registered gets
`PERSISTED_QUERY_NOT_ALLOWED`, and nothing is remembered.

Nothing here parses GraphQL: the text a hash resolves to is exactly the text that was sent, so
the schema's parser and validation caches (keyed by that text) serve a repeated persisted query
like any repeated query.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from salesgraph.settings import ConfigurationError, Settings

APOLLO_MANIFEST_FORMAT = "apollo-persisted-query-manifest"
# Characters of query text the cache holds at most, whatever its number of entries: a query may
# be as long as the body cap allows, and the cache must not become a way to fill the memory.
CACHE_MAX_CHARACTERS = 32 * 1024 * 1024

_SHA256_HEX = re.compile(r"[0-9a-fA-F]{64}")


class PersistedQueryError(Exception):
    """A persisted-query request that cannot run: a coded error and its HTTP status.

    `status` is for `application/graphql-response+json`; with `application/json` an error the
    client can act on (NOT_FOUND, NOT_ALLOWED) comes with 200, like other GraphQL errors, and a
    malformed request with 400.
    """

    def __init__(self, message: str, code: str, status: int, *, json_status: int | None = None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status
        self.json_status = status if json_status is None else json_status


def not_found() -> PersistedQueryError:
    # The message is what Apollo clients match on (with the code) before they retry with the text.
    return PersistedQueryError(
        "PersistedQueryNotFound", "PERSISTED_QUERY_NOT_FOUND", 404, json_status=200
    )


def not_allowed() -> PersistedQueryError:
    return PersistedQueryError(
        "Only registered operations may run on this server, and this one is not registered.",
        "PERSISTED_QUERY_NOT_ALLOWED",
        403,
        json_status=200,
    )


def bad_request(message: str) -> PersistedQueryError:
    return PersistedQueryError(message, "BAD_REQUEST", 400)


def sha256_hex(query: str) -> str:
    return hashlib.sha256(query.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class ResolvedQuery:
    """The query text a request runs, and the hash to remember it by once it proved valid."""

    query: str | None
    remember_as: str | None = None


class QueryCache:
    """A least-recently-used map of hash to query, bounded in entries and in characters."""

    def __init__(self, max_entries: int, max_characters: int = CACHE_MAX_CHARACTERS):
        self.max_entries = max_entries
        self.max_characters = max_characters
        self._queries: OrderedDict[str, str] = OrderedDict()
        self._characters = 0

    def __len__(self) -> int:
        return len(self._queries)

    def __contains__(self, sha256: object) -> bool:
        return sha256 in self._queries

    def get(self, sha256: str) -> str | None:
        query = self._queries.get(sha256)
        if query is not None:
            self._queries.move_to_end(sha256)
        return query

    def put(self, sha256: str, query: str) -> None:
        if len(query) > self.max_characters:
            return
        previous = self._queries.pop(sha256, None)
        if previous is not None:
            self._characters -= len(previous)
        self._queries[sha256] = query
        self._characters += len(query)
        while len(self._queries) > self.max_entries or self._characters > self.max_characters:
            _, evicted = self._queries.popitem(last=False)
            self._characters -= len(evicted)


class PersistedQueries:
    """Resolves a request's query from its text and its `persistedQuery` extension."""

    def __init__(
        self,
        *,
        cache_size: int,
        registered: Mapping[str, str] | None = None,
        registered_only: bool = False,
    ):
        self.cache = QueryCache(cache_size)
        self.registered: dict[str, str] = dict(registered or {})
        self.registered_only = registered_only
        self._registered_texts = frozenset(self.registered.values())

    @classmethod
    def from_settings(cls, settings: Settings) -> PersistedQueries:
        path = settings.persisted_queries_file
        if settings.persisted_queries_only and path is None:
            raise ConfigurationError(
                "invalid configuration: SALESGRAPH_PERSISTED_QUERIES_ONLY needs "
                "SALESGRAPH_PERSISTED_QUERIES_FILE"
            )
        return cls(
            cache_size=settings.persisted_query_cache_size,
            registered=load_registered_operations(path) if path is not None else None,
            registered_only=settings.persisted_queries_only,
        )

    def resolve(self, query: str | None, extensions: Mapping[str, Any] | None) -> ResolvedQuery:
        """The text to run; raises PersistedQueryError. Remembers nothing (see `remember`)."""
        persisted = extensions.get("persistedQuery") if extensions else None
        if persisted is None:
            if self.registered_only and query is not None and query not in self._registered_texts:
                raise not_allowed()
            return ResolvedQuery(query)
        sha256 = _requested_hash(persisted)
        registered = self.registered.get(sha256)
        if query is None:
            if registered is not None:
                return ResolvedQuery(registered)
            if self.registered_only:
                raise not_allowed()
            cached = self.cache.get(sha256)
            if cached is None:
                raise not_found()
            return ResolvedQuery(cached)
        if registered is not None and registered == query:
            return ResolvedQuery(query)
        if self.registered_only:
            raise not_allowed()
        if sha256_hex(query) != sha256:
            raise bad_request("provided sha does not match query")
        return ResolvedQuery(query, remember_as=sha256)

    def remember(self, resolved: ResolvedQuery) -> None:
        """Keep a query sent with its hash, once it parsed and validated."""
        if resolved.remember_as is not None and resolved.query is not None:
            self.cache.put(resolved.remember_as, resolved.query)


def _requested_hash(persisted: object) -> str:
    if not isinstance(persisted, dict):
        raise bad_request("extensions.persistedQuery must be an object")
    version = persisted.get("version")
    if version != 1 or isinstance(version, bool):
        raise bad_request("Unsupported persisted query version: only version 1 is supported")
    sha256 = persisted.get("sha256Hash")
    if not isinstance(sha256, str) or not _SHA256_HEX.fullmatch(sha256):
        raise bad_request("extensions.persistedQuery.sha256Hash must be 64 hexadecimal digits")
    return sha256.lower()


def load_registered_operations(path: Path) -> dict[str, str]:
    """The operations of a `{sha256: query}` file or an Apollo manifest, by SHA-256.

    Every id must be the SHA-256 of its query (Apollo's manifest generator makes them so).
    Raises ConfigurationError naming the problem: the server must not start with half a list.
    """

    def invalid(reason: str) -> ConfigurationError:
        return ConfigurationError(
            f"invalid configuration: SALESGRAPH_PERSISTED_QUERIES_FILE ({path}): {reason}"
        )

    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise invalid(error.strerror or "cannot be read") from None
    except ValueError as error:  # JSONDecodeError and UnicodeDecodeError
        raise invalid(f"not JSON ({error})") from None
    if not isinstance(content, dict):
        raise invalid("expected a JSON object")
    if content.get("format") == APOLLO_MANIFEST_FORMAT:
        if content.get("version") != 1:
            raise invalid("only version 1 of the Apollo manifest format is supported")
        entries = content.get("operations")
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            raise invalid("'operations' must be a list of objects")
        pairs = [(entry.get("id"), entry.get("body")) for entry in entries]
    else:
        pairs = list(content.items())
    operations: dict[str, str] = {}
    for operation_id, query in pairs:
        if not isinstance(query, str) or not query:
            raise invalid(f"the query of {operation_id!r} is not a non-empty string")
        if not isinstance(operation_id, str) or operation_id.lower() != sha256_hex(query):
            raise invalid(f"{operation_id!r} is not the SHA-256 of its query")
        operations[operation_id.lower()] = query
    return operations
