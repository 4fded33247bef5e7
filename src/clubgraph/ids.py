"""Opaque global IDs (Relay ``Node``): type, source, tenant and upstream id.

The encoding is URL-safe base64 of ``"<Type>|<source>|<tenant>|<upstream id>"``;
clients must treat it as opaque. Upstream ids may contain ``/`` but never ``|``.
"""

from __future__ import annotations

import base64
import binascii
from functools import lru_cache

from .domain import EntityType, Key, Source


class InvalidGlobalId(ValueError):
    """A string that is not a clubgraph global ID (or not of the expected type)."""


@lru_cache(maxsize=65536)
def encode(key: Key) -> str:
    """The global ID of an entity key (kept for the keys seen last: an entity's ID is
    asked for by each query that shows it)."""
    text = f"{key.type.value}|{key.source.value}|{key.tenant}|{key.id}"
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode(global_id: str, expected: EntityType | None = None) -> Key:
    """The key inside a global ID; raises ``InvalidGlobalId`` when malformed."""
    try:
        padded = global_id + "=" * (-len(global_id) % 4)
        text = base64.urlsafe_b64decode(padded.encode("ascii")).decode()
        type_name, source, tenant, upstream_id = text.split("|", 3)
        key = Key(EntityType(type_name), Source(source), tenant, upstream_id)
    except (ValueError, UnicodeError, binascii.Error) as exc:
        raise InvalidGlobalId(f"{global_id!r} is not a valid ID") from exc
    if not tenant or not upstream_id:
        raise InvalidGlobalId(f"{global_id!r} is not a valid ID")
    if expected is not None and key.type is not expected:
        raise InvalidGlobalId(f"{global_id!r} is not the ID of a {expected.value}")
    return key
