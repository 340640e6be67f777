"""Turning validation failures into error answers that name the field and the problem.

Pydantic's raw messages ("Extra inputs are not permitted") are rewritten where a client needs
more: which fields exist, and that demographics are the service's job, not the client's.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from typing import Any

from lambda_fn.schemas import ErrorDetail


def field_path(loc: Sequence[Any]) -> str:
    """('body', 'instances', 3, 'zipcode') -> 'instances[3].zipcode'; the whole body -> 'body';
    ('query', 'as_of') -> 'as_of' (query parameters are named as clients write them)."""
    path = ""
    for part in loc[1:] if loc and loc[0] in ("body", "query") else loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "body"


def describe(errors: Iterable[dict[str, Any]], *, allowed_fields: Sequence[str],
             demographic_fields: Iterable[str], top_level_fields: Sequence[str] | None = None) -> list[ErrorDetail]:
    """``top_level_fields``: what a body may hold when houses sit one level down (the batch route)."""
    demographic_fields = set(demographic_fields)
    details = []
    for error in errors:
        loc = tuple(error.get("loc", ()))
        kind = error.get("type", "")
        problem = str(error.get("msg", "invalid value"))
        if kind == "json_invalid":
            problem = f"request body is not valid JSON: {error.get('ctx', {}).get('error', problem)}"
            loc = ("body",)
        elif kind == "extra_forbidden" and loc and loc[-1] in demographic_fields:
            problem = ("demographic fields must not be sent: the service adds them from the zipcode "
                       "(send only the house's own attributes)")
        elif kind == "extra_forbidden":
            allowed = top_level_fields if top_level_fields and len(loc) == 2 else allowed_fields
            close = difflib.get_close_matches(str(loc[-1]), allowed, n=1) if loc else []
            hint = f"did you mean '{close[0]}'? " if close else ""
            problem = f"unknown field; {hint}allowed fields: {', '.join(allowed)}"
        elif kind == "missing" and loc == ("body",):
            problem = "request body is missing: send a JSON object"
        elif kind == "value_error":
            problem = problem.removeprefix("Value error, ")
        elif kind in {"model_type", "model_attributes_type", "dict_type"}:
            problem = "expected a JSON object"
        elif kind.startswith("date") and loc[:1] == ("query",):
            problem = f"expected a day as YYYY-MM-DD, e.g. 2015-05-27 ({problem})"
        details.append(ErrorDetail(field=field_path(loc), problem=problem))
    return details
