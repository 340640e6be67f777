"""Domain errors raised by the prediction core; ``handler.py`` maps each to one HTTP answer."""

from __future__ import annotations

import difflib


class PredictionInputError(ValueError):
    """Input that passed the schema but that the served model cannot price (answered with 422)."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


class UnknownZipcodeError(PredictionInputError):
    def __init__(self, field: str, zipcode: str, served: int) -> None:
        super().__init__(field, f"zipcode {zipcode} is not one of the {served} King County zipcodes this "
                                "model serves (see GET /v1/model for the list)")
        self.zipcode = zipcode


class UnknownModelError(LookupError):
    """A request named a model that is not served (answered with 400)."""

    def __init__(self, requested: str, available: list[str]) -> None:
        super().__init__(f"no model named '{requested}'; available: {', '.join(available)}")
        self.requested = requested
        self.available = available


class UnknownQueryParameterError(ValueError):
    """A query parameter the API does not know, e.g. a misspelled ``model`` (answered with 400)."""

    def __init__(self, name: str, known: tuple[str, ...]) -> None:
        close = difflib.get_close_matches(name, known, n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        takes = f"known: {', '.join(known)}" if known else "this route takes none"
        super().__init__(f"unknown query parameter '{name}'; {hint}{takes}")
        self.name = name
