"""JSON in and out: strict parsing of request bodies, and pydantic's serializer for answers.

Every way a request body can fail to parse is a JSONDecodeError.

Powertools turns ``json.JSONDecodeError`` into a validation error (answered 400 malformed_json)
but lets anything else escape as a 500. ``json.loads`` also raises RecursionError (deep nesting),
TypeError (a body that is not text, as in a hand-made Lambda event),
ValueError (integers over 4,300 digits), accepts NaN / Infinity, which are not JSON at all, and
keeps the last of duplicate keys, so ``{"bedrooms": 4, ..., "bedrooms": 9}`` would silently price
9 bedrooms: a duplicate key is refused instead.

Bodies are read by pydantic's compiled parser (``pydantic_core.from_json``) when that is provably
what the strict parser would return, and by the strict parser otherwise. The compiled parser also
keeps the last of duplicate keys, but a dropped key cannot go unseen: in JSON text without a
backslash every ``"`` delimits a string, so the text has two for each of its strings, and the
value written back out has two for each string it kept. Equal counts mean nothing was dropped.
A body with any escape, or one the compiled parser refuses, goes to the strict parser, whose
answer (a value or its error) is then the one given.
"""

from __future__ import annotations

import json
from typing import Any

import pydantic_core


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) == len(pairs):
        return result
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            raise ValueError(f"duplicate key {key[:40]!r}: each field may appear once")
        seen.add(key)
    raise AssertionError("unreachable: fewer keys than pairs means a duplicate")


def parse_json_body(text: str) -> Any:
    """The body's JSON value; a JSONDecodeError for anything the strict parser refuses."""
    if not isinstance(text, str) or "\\" in text:
        return parse_strictly(text)
    try:
        value = pydantic_core.from_json(text, allow_inf_nan=False)
        kept_every_string = text.count('"') == pydantic_core.to_json(value).count(b'"')
    except Exception:   # whatever it refuses, the strict parser refuses in its own words
        return parse_strictly(text)
    return value if kept_every_string else parse_strictly(text)


def parse_strictly(text: str) -> Any:
    """``json.loads`` refusing NaN, Infinity and duplicate keys, every failure a JSONDecodeError."""
    try:
        return json.loads(text, parse_constant=_reject_constant, object_pairs_hook=_unique_keys)
    except json.JSONDecodeError:
        raise
    except RecursionError as error:
        raise json.JSONDecodeError("nested too deeply", text, 0) from error
    except TypeError as error:   # a hand-made Lambda event whose body is already an object, not text
        raise json.JSONDecodeError(f"the body is a {type(text).__name__}, not JSON text", "", 0) from error
    except ValueError as error:
        raise json.JSONDecodeError(str(error), text, 0) from error


def dump_json(value: Any) -> str:
    """An answer's JSON text, written by pydantic's compiled serializer (docs/serving.md has its
    speed). Unlike ``json.dumps`` it writes non-ASCII characters as UTF-8 rather than escaped, and a
    NaN as null rather than the non-JSON ``NaN``."""
    return pydantic_core.to_json(value).decode("utf-8")
