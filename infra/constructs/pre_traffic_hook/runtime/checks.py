"""What the new version must answer before it takes traffic: a priced house, and a refused request.

A check takes the function's answer (the API Gateway proxy response its handler returns) and
returns the problems it finds, in words for the log; none means it passed. The expected price is
not a figure recorded at build time: the version prices with the model version the registry's
pointer names when it starts, which a deploy does not change (decision 017). So the check asks
what holds for every correct answer: status 200, a positive price inside its interval, the model
the request was meant for, and the sentence that says which market the price belongs to.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

EXCERPT_CHARS = 300  # of an unexpected body, in a log line


@dataclass(frozen=True)
class Answer:
    """The function's answer as API Gateway would relay it: status code and parsed JSON body."""

    status: int
    body: Any
    text: str

    def excerpt(self) -> str:
        return self.text[:EXCERPT_CHARS]


@dataclass(frozen=True)
class Expected:
    model: str  # the model a request that names none is priced with: the function's DEFAULT_MODEL


def parse_answer(payload: str) -> Answer:
    """The proxy response in an Invoke payload; ValueError when it is not one."""
    try:
        response = json.loads(payload)
    except ValueError as error:
        raise ValueError(f"the payload is not JSON ({error}): {payload[:EXCERPT_CHARS]!r}") from None
    if not isinstance(response, dict) or not isinstance(response.get("statusCode"), int):
        raise ValueError(f"not an API Gateway proxy response (no integer statusCode): {payload[:EXCERPT_CHARS]!r}")
    text = response.get("body") or ""
    if response.get("isBase64Encoded"):
        try:
            text = base64.b64decode(text, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError) as error:
            raise ValueError(f"the body is marked base64 but does not decode ({error})") from None
    try:
        body = json.loads(text)
    except ValueError:
        body = None  # reported by the check that expected JSON
    return Answer(status=response["statusCode"], body=body, text=text)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def check_priced(answer: Answer, expected: Expected) -> list[str]:
    """A valid house is priced: 200, a positive price within its interval, by the expected model."""
    if answer.status != 200:
        return [f"expected status 200, got {answer.status}: {answer.excerpt()}"]
    body = answer.body
    if not isinstance(body, dict):
        return [f"expected a JSON object, got: {answer.excerpt()}"]
    problems = []
    price = body.get("price")
    if not (_number(price) and price > 0):
        problems.append(f"price {price!r} is not a positive number")
    interval = body.get("interval")
    if interval is not None:  # null for a model without one; otherwise it must hold the price
        low, high = (interval.get("low"), interval.get("high")) if isinstance(interval, dict) else (None, None)
        if not (_number(low) and _number(high) and _number(price) and low <= price <= high):
            problems.append(f"price {price!r} is not inside its interval {interval!r}")
    model = body.get("model") if isinstance(body.get("model"), dict) else {}
    if model.get("name") != expected.model:
        problems.append(f"priced by model {model.get('name')!r}, expected {expected.model!r} (DEFAULT_MODEL)")
    if not _text(model.get("version")):
        problems.append(f"no model version in the answer: {model!r}")
    if not _text(body.get("price_basis")):
        problems.append("no price_basis: the answer must say which market the price belongs to")
    return problems


def check_refused(answer: Answer, expected: Expected) -> list[str]:
    """An invalid request is refused: a 4xx in the service's error format, naming what is wrong."""
    if answer.status == 200:
        return [f"an invalid request was answered 200 (it must be refused with a 4xx): {answer.excerpt()}"]
    if not 400 <= answer.status < 500:
        return [f"expected a 4xx refusal, got {answer.status}: {answer.excerpt()}"]
    body = answer.body
    if not isinstance(body, dict):
        return [f"expected the error format {{error, message, details}}, got: {answer.excerpt()}"]
    problems = [f"{key!r} is not a non-empty string" for key in ("error", "message") if not _text(body.get(key))]
    details = body.get("details")
    # A validation refusal names the field at fault: clients fix their request from it.
    if not (isinstance(details, list) and details
            and all(isinstance(d, dict) and _text(d.get("field")) and _text(d.get("problem")) for d in details)):
        problems.append(f"details {details!r} is not a list of {{field, problem}}")
    return problems


@dataclass(frozen=True)
class Case:
    event_file: str  # an API Gateway event of the repository's events/, packaged with the hook
    what: str
    check: Callable[[Answer, Expected], list[str]]


CASES = (
    Case("predict.json", "prices a valid house", check_priced),
    Case("bad_missing_field.json", "refuses a house without sqft_living", check_refused),
)
EVENT_FILES = tuple(case.event_file for case in CASES)
