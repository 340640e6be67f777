"""Request events with their Content-Type media type in lowercase, before Powertools reads them.

Media types are case-insensitive (RFC 9110 8.3.1), but Powertools 3.37's request validation picks
the body parser with ``content_type.startswith("application/json")``, so ``APPLICATION/JSON`` is
refused with 415. That validation runs before any ``app.use`` middleware, so the event is fixed
before ``app.resolve`` instead. Only the type/subtype is lowercased: parameter values such as a
multipart ``boundary`` are case-sensitive and are kept as sent.
"""

from __future__ import annotations

from typing import Any

_HEADER = "content-type"


def _lowercase_media_type(value: str) -> str:
    media_type, separator, parameters = value.partition(";")
    return media_type.strip().lower() + separator + parameters


def normalise_content_type(event: dict[str, Any]) -> dict[str, Any]:
    """A copy of an API Gateway (REST, payload v1) event whose Content-Type headers carry a
    lowercase media type; the caller's event is left untouched."""
    fixed = dict(event)
    for field, fix in (("headers", _lowercase_media_type),
                       ("multiValueHeaders", lambda values: [_lowercase_media_type(v) for v in values])):
        if event.get(field):
            fixed[field] = {name: fix(value) if name.lower() == _HEADER and value is not None else value
                            for name, value in event[field].items()}
    return fixed


def is_json(content_type: str) -> bool:
    """Exactly ``application/json`` (any parameters, any case), or no Content-Type at all."""
    return not content_type or content_type.split(";")[0].strip().lower() == "application/json"
