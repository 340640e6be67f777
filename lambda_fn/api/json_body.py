"""Strict JSON for request bodies: every way a body can fail to parse is a JSONDecodeError.

Powertools turns ``json.JSONDecodeError`` into a validation error (answered 400 malformed_json)
but lets anything else escape as a 500. ``json.loads`` also raises RecursionError (deep nesting),
ValueError (integers over 4,300 digits) and accepts NaN / Infinity, which are not JSON at all.
"""

from __future__ import annotations

import json
from typing import Any


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def parse_json_body(text: str) -> Any:
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError:
        raise
    except RecursionError as error:
        raise json.JSONDecodeError("nested too deeply", text, 0) from error
    except ValueError as error:
        raise json.JSONDecodeError(str(error), text, 0) from error
