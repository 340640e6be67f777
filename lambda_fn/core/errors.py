"""What the prediction core refuses to price, named by row and field; the API turns each into a 422.

``row`` is the house's position in the request (None when the problem is not one house's, such as
the day asked) and ``field`` the input it names: a house column, or ``asked_on`` for the day.
"""

from __future__ import annotations

import datetime


class PredictionInputError(ValueError):
    """Input that passed the schema but that the model cannot price."""

    def __init__(self, field: str, problem: str, *, row: int | None = None) -> None:
        super().__init__(f"{field}: {problem}" if row is None else f"house {row}, {field}: {problem}")
        self.field = field
        self.problem = problem
        self.row = row


class UnknownZipcodeError(PredictionInputError):
    def __init__(self, zipcode: int, served: int, *, row: int | None = None) -> None:
        super().__init__("zipcode", f"zipcode {zipcode:05d} is not one of the {served} King County zipcodes this "
                                    "model serves (see GET /v1/model for the list)", row=row)
        self.zipcode = zipcode


ASKED_ON = "asked_on"   # the field name of the day a price is asked for


class AskedBeforeDataError(PredictionInputError):
    def __init__(self, day: datetime.date, first_month: str) -> None:
        super().__init__(ASKED_ON, f"{day.isoformat()} is before {first_month}, the first month of the sales this "
                                   "model learnt from; ask for a day in or after that month")


class CannotExplainError(ValueError):
    """Asked to explain the prices of a model that does not attribute them."""

    def __init__(self, model: str) -> None:
        super().__init__(f"model {model} cannot explain its prices")
        self.model = model
