"""Request and response models of the HTTP API (pydantic; validated by the Powertools resolver).

Requests are strict: unknown or misspelled fields are rejected (a typo must not silently change
a price), numbers must be JSON numbers (not strings or booleans), and every value must be
possible for a King County home. Demographic fields are not accepted: the service joins them
from the zipcode itself, so a client cannot price a house with made-up census figures.

The minimal route validates against ``minimal_house_schema(fields)``: a model built from
``House``'s own field definitions holding exactly the fields the chosen model needs, with the
cross-field checks that apply to those fields.
"""

from __future__ import annotations

import calendar
import datetime
import re
import time
from collections.abc import Callable, Sequence
from functools import cache
from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, create_model, model_validator

from lambda_fn.core.predictor import Explanation, Pricing

MAX_BATCH_SIZE = 1000
ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
PRICE_BASIS = ("Estimated from King County sales of May 2014 to May 2015, not adjusted to today's "
               "market: read it as a 2014-15 price.")
MARKET_MONTH_DESCRIPTION = (
    "The month of the client's May 2014 to May 2015 sales the price is set at: the month of ?as_of= (today "
    "if absent), or 2015-05, the data's last month, for any later day. Null for a model that prices at the "
    "average of its data.")


def iso_day(value: Any) -> Any:
    """Only ``YYYY-MM-DD`` names a day: pydantic alone would also read ``1412121600`` as a Unix time
    and ``2015-05-27T10:00Z`` as a day, which a client may not mean."""
    if isinstance(value, str) and not ISO_DAY.fullmatch(value):
        raise ValueError(f"expected a day as YYYY-MM-DD, e.g. 2015-05-27; got {value[:40]!r}")
    return value


def price_basis(market_month: str | None) -> str:
    """The sentence every price carries: which market it is a price of."""
    if market_month is None:
        return PRICE_BASIS
    return (f"Estimated as a sale in King County in {market_month}, from sales of May 2014 to May 2015; "
            "not adjusted to today's market: read it as a 2014-15 price.")


def _whole_number(value: Any) -> Any:
    # JSON writers often emit 1680.0 for an integer column; accept it, but never 1680.5.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _zipcode(value: Any) -> Any:
    # Zipcodes arrive as 98118 (the client's CSV), "98118" (most JSON writers) or 98118.0 (a
    # float column of a data frame); all mean one thing. Other text is not guessed at.
    if isinstance(value, str):
        if len(value) == 5 and value.isascii() and value.isdigit():
            return int(value)
        raise ValueError(f"expected a 5-digit zipcode such as 98118, as a number or as text; got {value[:40]!r}")
    return _whole_number(value)


_this_year_span: tuple[int, float, float] = (0, 0.0, 0.0)   # a year in UTC, the epoch seconds it starts and ends at


def this_year() -> int:
    """The current year in UTC, as the day a price is asked on (``core.market.today``).

    Worked out again only when the clock leaves the year last worked out: a batch asks for it
    once or twice per house, and ``datetime.date.today()`` each time was a visible share of its
    validation."""
    global _this_year_span
    year, starts, ends = _this_year_span
    now = time.time()
    if not starts <= now < ends:
        year = time.gmtime(now).tm_year
        _this_year_span = (year, float(calendar.timegm((year, 1, 1, 0, 0, 0))),
                           float(calendar.timegm((year + 1, 1, 1, 0, 0, 0))))
    return year


def _not_in_future(year: int) -> int:
    if year > this_year() + 1:
        raise ValueError(f"year {year} is in the future")
    return year


WholeNumber = Annotated[int, BeforeValidator(_whole_number)]
Year = Annotated[WholeNumber, AfterValidator(_not_in_future)]
# The bounds come before the validator: after it, pydantic writes them into the OpenAPI document as
# "ge"/"le", which are not JSON Schema, so the document would allow any integer as a zipcode.
Zipcode = Annotated[int, Field(ge=98001, le=98199, description="King County zipcode"), BeforeValidator(_zipcode)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


def _check_living_area(house: BaseModel) -> None:
    # In every King County record sqft_living == sqft_above + sqft_basement; a mismatch
    # means a typo in one of the three.
    if house.sqft_above + house.sqft_basement != house.sqft_living:
        raise ValueError(f"sqft_above ({house.sqft_above}) + sqft_basement ({house.sqft_basement}) must "
                         f"equal sqft_living ({house.sqft_living})")


def _check_renovation(house: BaseModel) -> None:
    if house.yr_renovated and not house.yr_built <= house.yr_renovated <= this_year():
        raise ValueError(f"yr_renovated ({house.yr_renovated}) must be 0 or a past year no earlier than "
                         f"yr_built ({house.yr_built})")


_CROSS_FIELD_CHECKS = (
    (frozenset({"sqft_above", "sqft_basement", "sqft_living"}), _check_living_area),
    (frozenset({"yr_built", "yr_renovated"}), _check_renovation),
)


class _SomeHouseFields(_Strict):
    """Base of every house schema: runs the cross-field checks whose fields are all present."""

    # Chosen once per schema: reading ``model_fields`` per house cost about 2 us each, 2 ms a batch.
    _checks: ClassVar[tuple[Callable[[BaseModel], None], ...]] = ()

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        cls._checks = tuple(check for fields, check in _CROSS_FIELD_CHECKS if fields <= cls.model_fields.keys())

    @model_validator(mode="after")
    def _consistent(self):
        for check in self._checks:
            check(self)
        return self


class House(_SomeHouseFields):
    """One home, with exactly the columns of ``future_unseen_examples.csv`` (in that order)."""

    bedrooms: WholeNumber = Field(ge=0, le=40, examples=[4])
    bathrooms: float = Field(ge=0, le=12, examples=[1.0])
    sqft_living: WholeNumber = Field(gt=0, le=50_000, examples=[1680])
    sqft_lot: WholeNumber = Field(gt=0, le=5_000_000, examples=[5043])
    floors: float = Field(ge=1, le=4, examples=[1.5])
    waterfront: WholeNumber = Field(ge=0, le=1, examples=[0])
    view: WholeNumber = Field(ge=0, le=4, examples=[0])
    condition: WholeNumber = Field(ge=1, le=5, examples=[4])
    grade: WholeNumber = Field(ge=1, le=13, examples=[6])
    sqft_above: WholeNumber = Field(gt=0, le=50_000, examples=[1680])
    yr_built: Year = Field(ge=1850, examples=[1911])
    sqft_basement: WholeNumber = Field(ge=0, le=50_000, examples=[0])
    yr_renovated: WholeNumber = Field(ge=0, description="0 when never renovated", examples=[0])
    zipcode: Zipcode = Field(examples=[98118])
    lat: float = Field(ge=47.0, le=47.9, description="latitude within King County", examples=[47.5354])
    long: float = Field(ge=-122.6, le=-121.0, description="longitude within King County", examples=[-122.273])
    sqft_living15: WholeNumber = Field(gt=0, le=50_000, examples=[1560])
    sqft_lot15: WholeNumber = Field(gt=0, le=5_000_000, examples=[5765])

    def __repr__(self) -> str:
        # Powertools formats every route's arguments into a debug message whether or not debug is
        # on (an f-string); pydantic's generic repr of a house costs 18.5 us, this one 3.2 us.
        return f"House(zipcode={self.zipcode}, lat={self.lat}, long={self.long}, sqft_living={self.sqft_living})"


@cache
def minimal_house_schema(fields: Sequence[str]) -> type[BaseModel]:
    """A strict request model holding exactly ``fields``, each defined as in ``House``."""
    unknown = sorted(set(fields) - House.model_fields.keys())
    if unknown:
        raise ValueError(f"not house fields: {unknown}")
    definitions: dict[str, Any] = {name: (House.model_fields[name].annotation, House.model_fields[name])
                                   for name in House.model_fields if name in fields}
    return create_model("MinimalHouse", __base__=_SomeHouseFields, **definitions)


class BatchRequest(_Strict):
    instances: list[House] = Field(min_length=1, max_length=MAX_BATCH_SIZE)

    def __repr__(self) -> str:
        # Powertools formats every route's arguments into a debug message whether or not debug is
        # on (an f-string); pydantic's full repr of 1,000 houses cost about 19 ms per batch.
        return f"BatchRequest(instances=<{len(self.instances)} houses>)"


class ModelRef(BaseModel):
    name: str
    version: str


class Interval(BaseModel):
    low: float = Field(description="Lower end of the range, USD")
    high: float = Field(description="Upper end of the range, USD")
    coverage: float = Field(description="Share of sale prices the range held in cross-validation (0.8: 8 in 10)")


class PricedHouse(BaseModel):
    price: float = Field(description="Estimated sale price in USD (2014-15 market)")
    interval: Interval | None = Field(None, description="Range around the price; null when the model has none")


class FieldWarning(BaseModel):
    field: str = Field(description="The input, as sent: lat, or instances[3].lat in a batch")
    problem: str


class _PricedAtMonth(BaseModel):
    """``price_basis`` follows from ``market_month``: the sentence naming the market of the prices."""

    currency: str = "USD"
    price_basis: str = PRICE_BASIS
    market_month: str | None = Field(None, description=MARKET_MONTH_DESCRIPTION)
    model: ModelRef
    warnings: list[FieldWarning] = Field(default_factory=list, description=(
        "What was odd about the houses, priced anyway: coordinates outside the homes of their zipcode"))

    @model_validator(mode="after")
    def _state_the_basis(self):
        self.price_basis = price_basis(self.market_month)
        return self


class PredictionResponse(_PricedAtMonth, PricedHouse):
    pass


class ContributionGroup(BaseModel):
    group: str = Field(description="What moved the price, e.g. location, living area, nearby sales, market month")
    usd: float = Field(description="How much it moved the price from the baseline, USD (negative: down)")


class ComparableSale(BaseModel):
    zipcode: int
    lat: float
    long: float
    bedrooms: int
    bathrooms: float
    sqft_living: int
    grade: int
    yr_built: int
    sale_date: datetime.date = Field(description="The day it sold (May 2014 to May 2015)")
    sale_price: float = Field(description="What it sold for, USD")
    price_at_market_month: float = Field(description="Its sale price moved to market_month by the model's market index")
    distance_km: float = Field(description="Straight-line distance from the house priced")


class ExplanationResponse(PredictionResponse):
    baseline: float = Field(description=(
        "The model's price before any of this house's features, USD; baseline plus every contribution is the "
        "price to the cent"))
    contributions: list[ContributionGroup] = Field(description=(
        "From the model's exact tree attributions, grouped; the same groups in the same order for every house"))
    comparables: list[ComparableSale] = Field(description=(
        "The 5 training sales most like the house: near it and similar in size, grade and age; most alike first"))


def explained(pricing: Pricing, explanation: Explanation, coverage: float | None) -> dict[str, Any]:
    """The ``ExplanationResponse`` fields beyond the ``_PricedAtMonth`` ones, for one house."""
    [priced] = priced_houses(pricing, coverage)
    grouped = explanation.contributions
    return {**priced, "baseline": grouped.baseline,
            "contributions": [{"group": group, "usd": usd} for group, usd in grouped.usd.items()],
            "comparables": [{**vars(sale), "price_at_market_month": moved} for sale, moved in
                            zip(explanation.comparables, explanation.comparable_prices, strict=True)]}


class BatchResponse(_PricedAtMonth):
    predictions: list[PricedHouse]


def priced_houses(pricing: Pricing, coverage: float | None) -> list[dict[str, Any]]:
    """Each price (and range) as the ``PricedHouse`` fields: plain dicts, validated once by the
    response model in pydantic's compiled core (measured: 1.7 ms for 1,000, against 2.6 ms as objects)."""
    if pricing.intervals is None:
        return [{"price": price, "interval": None} for price in pricing.prices]
    return [{"price": price, "interval": {"low": low, "high": high, "coverage": coverage}}
            for price, (low, high) in zip(pricing.prices, pricing.intervals, strict=True)]


class ModelSummary(BaseModel):
    name: str
    version: str
    description: str
    default: bool = Field(description="Answers requests that name no model")
    required_fields: list[str] = Field(description="The fields /v1/predict/minimal?model=NAME asks for")
    interval_coverage: float | None = Field(description="Coverage of the price range it returns; null: no range")
    explains: bool = Field(description="Answers /v1/predict/explain: what moved each price, and comparable sales")
    metrics: dict[str, dict[str, float]] = Field(description="held_out, train and cv metrics recorded at training")

    @classmethod
    def from_metadata(cls, metadata: dict[str, Any], *, default: bool) -> ModelSummary:
        interval = metadata.get("interval")
        return cls(name=metadata["name"], version=metadata["version"], description=metadata.get("description", ""),
                   default=default, required_fields=metadata["required_fields"],
                   interval_coverage=interval["coverage"] if interval else None,
                   explains=bool(metadata.get("explains")), metrics=metadata.get("metrics", {}))


class ModelsResponse(BaseModel):
    default: str
    models: list[ModelSummary]


class HealthResponse(BaseModel):
    status: str
    model: ModelRef


class ErrorDetail(BaseModel):
    field: str
    problem: str


class ErrorResponse(BaseModel):
    error: str
    message: str
    details: list[ErrorDetail] = []
