"""Persisted queries: Apollo's automatic persisted queries, and trusted documents.

**Automatic persisted queries** (APQ): a client sends the SHA-256 of its document in
``extensions.persistedQuery`` (version 1), without the document. A server that knows the
hash runs the document it stands for; one that does not answers ``PersistedQueryNotFound``
and the client sends document and hash together once, which the server checks and keeps.
Hash-only requests may then go by GET, which a CDN can cache.

**Trusted documents** (``CLUBGRAPH_TRUSTED_DOCUMENTS``, a manifest file): only the
operations of the manifest run, whether asked for by hash or sent in full; anything else
is refused, and no document is learnt at run time. The manifest is Apollo's persisted
query manifest (``{"format": "apollo-persisted-query-manifest", "operations": [{"id",
"body", ...}]}``) or a plain ``{"<sha256>": "<document>"}`` object.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .settings import SettingsError

KEPT = 10_000


class PersistedQueryError(Exception):
    """A request the persisted-query protocol answers with an error instead of a result.

    ``status`` is the HTTP status: 200 for ``PersistedQueryNotFound`` (clients retry with
    the document on that answer, as Apollo's link does), 400 for a request to refuse.
    """

    def __init__(self, message: str, code: str, status: int) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status

    def body(self) -> dict[str, Any]:
        return {"errors": [{"message": self.message, "extensions": {"code": self.code}}]}


def sha256(document: str) -> str:
    return hashlib.sha256(document.encode()).hexdigest()


class PersistedQueries:
    """The documents known by hash: a bounded store, or a fixed manifest."""

    def __init__(self, trusted: Mapping[str, str] | None = None, kept: int = KEPT) -> None:
        self.trusted = dict(trusted) if trusted is not None else None
        self._kept = kept
        self._store: OrderedDict[str, str] = OrderedDict()

    @classmethod
    def from_manifest(cls, path: str) -> PersistedQueries:
        """Trusted documents from a manifest file; a bad file stops the server at start."""
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, ValueError) as exc:
            raise SettingsError(f"CLUBGRAPH_TRUSTED_DOCUMENTS={path!r}: {exc}") from exc
        if isinstance(data, dict) and isinstance(data.get("operations"), list):
            pairs = {str(op.get("id")): op.get("body") for op in data["operations"]}
        elif isinstance(data, dict):
            pairs = dict(data)
        else:
            raise SettingsError(f"CLUBGRAPH_TRUSTED_DOCUMENTS={path!r} is not a manifest")
        documents: dict[str, str] = {}
        for digest, body in pairs.items():
            if not isinstance(body, str) or sha256(body) != digest:
                raise SettingsError(
                    f"CLUBGRAPH_TRUSTED_DOCUMENTS={path!r}: the document of {digest!r} does "
                    "not hash to it"
                )
            documents[digest] = body
        return cls(documents)

    def resolve(self, query: str | None, extensions: Mapping[str, Any] | None) -> str | None:
        """The document to run for a request, or ``PersistedQueryError``."""
        persisted = (extensions or {}).get("persistedQuery")
        if persisted is None:
            if self.trusted is not None and (query is None or sha256(query) not in self.trusted):
                raise PersistedQueryError(
                    "Only trusted documents run on this server: send the hash of one "
                    "(extensions.persistedQuery.sha256Hash).",
                    "PERSISTED_QUERY_NOT_ALLOWED",
                    400,
                )
            return query
        if not isinstance(persisted, Mapping) or persisted.get("version") != 1:
            raise PersistedQueryError(
                "Unsupported persisted query version (only version 1 is).",
                "PERSISTED_QUERY_VERSION_NOT_SUPPORTED",
                400,
            )
        digest = persisted.get("sha256Hash")
        if not isinstance(digest, str) or len(digest) != 64:
            raise PersistedQueryError(
                "persistedQuery.sha256Hash must be a hex SHA-256.", "BAD_REQUEST", 400
            )
        digest = digest.lower()
        if query is not None:
            if sha256(query) != digest:
                raise PersistedQueryError(
                    "provided sha does not match query", "PERSISTED_QUERY_HASH_MISMATCH", 400
                )
            if self.trusted is not None:
                if digest not in self.trusted:
                    raise PersistedQueryError(
                        "Only trusted documents run on this server.",
                        "PERSISTED_QUERY_NOT_ALLOWED",
                        400,
                    )
                return query
            self._keep(digest, query)
            return query
        known = self.trusted.get(digest) if self.trusted is not None else self._recall(digest)
        if known is None:
            if self.trusted is not None:
                raise PersistedQueryError(
                    "No trusted document has this hash.", "PERSISTED_QUERY_NOT_ALLOWED", 400
                )
            raise PersistedQueryError("PersistedQueryNotFound", "PERSISTED_QUERY_NOT_FOUND", 200)
        return known

    def _keep(self, digest: str, query: str) -> None:
        self._store[digest] = query
        self._store.move_to_end(digest)
        while len(self._store) > self._kept:
            self._store.popitem(last=False)

    def _recall(self, digest: str) -> str | None:
        query = self._store.get(digest)
        if query is not None:
            self._store.move_to_end(digest)
        return query
