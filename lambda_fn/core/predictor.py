"""The prediction core: houses and the day asked, in; prices, 80% ranges and the month priced, out.

Every front door (the Lambda handler, the HTTP server, training, evaluation, benchmarks) prices
through ``Predictor``. It knows nothing of HTTP or AWS: inputs that cannot be priced raise
``PredictionInputError`` naming the house's row and the field.

A predictor is built from a model version's files, handed over as bytes once
``lambda_fn.registry`` has checked their checksums (``from_files``): ``model_features.json``
(feature order), ``demographics.csv`` (joined on the zipcode), the model's own files by its
``format`` (``lambda_fn.core.boosted`` or ``lambda_fn.core.pickled``), and the ``metadata``
entries ``interval``, ``market`` and ``zipcode_areas``. A file not handed over is never read.
"""

from __future__ import annotations

import csv
import datetime
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from lambda_fn.core.contributions import Contributions, Grouping
from lambda_fn.core.errors import CannotExplainError
from lambda_fn.core.features import FeatureBuilder
from lambda_fn.core.intervals import PriceIntervals
from lambda_fn.core.locations import InputWarning, ZipcodeAreas
from lambda_fn.core.market import MarketMonths
from lambda_fn.core.market import market_month as month_number_of

if TYPE_CHECKING:   # imported when first needed: scipy.spatial, its KD-tree, took 0.35 s under -X importtime
    from lambda_fn.core.comparables import Comparable, SaleRecords

FEATURES_FILE = "model_features.json"
DEMOGRAPHICS_FILE = "demographics.csv"
SALES_FILE = "sales.csv"   # the training sales comparables are drawn from (versions that explain)
COMPARABLES = 5


class PriceModel(Protocol):
    def predict(self, x: np.ndarray) -> np.ndarray: ...

    def files(self) -> dict[str, bytes]: ...


@runtime_checkable
class ExplainingModel(PriceModel, Protocol):
    """A model that attributes its prices (``lambda_fn.core.boosted``) and has a market index."""

    @property
    def explained_columns(self) -> list[str]: ...

    def log_contributions(self, x: np.ndarray) -> tuple[float, np.ndarray]: ...

    def index_at(self, months: np.ndarray) -> np.ndarray: ...


class ModelFormatError(ValueError):
    """A model folder whose files or metadata cannot make a predictor."""


@dataclass(frozen=True)
class Pricing:
    """Prices in USD to the cent, in input order; ``intervals`` (low, high) when the model has them;
    ``market_month``: the month of the data they are set at (None: the average of the data);
    ``warnings``: what was odd about houses priced anyway (coordinates outside their zipcode)."""

    prices: list[float]
    intervals: list[tuple[float, float]] | None
    market_month: str | None
    warnings: list[InputWarning]


@dataclass(frozen=True)
class Explanation:
    """Why one house got its price: ``contributions`` (baseline plus groups, to the cent), and the
    ``comparables`` most like it with ``comparable_prices``: each sale price moved to the priced
    month by the model's own market index."""

    contributions: Contributions
    comparables: list[Comparable]
    comparable_prices: list[float]


class VersionFiles(Mapping[str, bytes]):
    """A version's checksummed files by name; asking for any other file is a ModelFormatError."""

    def __init__(self, files: Mapping[str, bytes]) -> None:
        self._files = dict(files)

    def __getitem__(self, name: str) -> bytes:
        if name not in self._files:
            raise ModelFormatError(f"{name} is not among the version's checksummed files")
        return self._files[name]

    def __iter__(self):
        return iter(self._files)

    def __len__(self) -> int:
        return len(self._files)

    def __contains__(self, name: object) -> bool:
        return name in self._files

    def get(self, name: str, default: bytes | None = None) -> bytes | None:   # an optional file: no error
        return self._files.get(name, default)

    def text(self, name: str) -> str:
        return self[name].decode("utf-8")


def parse_demographics(text: str) -> dict[str, dict[str, float]]:
    """zipcode -> demographic values, from a version's demographics.csv."""
    return {row.pop("zipcode"): {k: float(v) for k, v in row.items()} for row in csv.DictReader(io.StringIO(text))}


def _to_the_cent(prices: np.ndarray) -> list[float]:
    return [round(float(price), 2) for price in prices]


def load_model(model_format: str, files: VersionFiles) -> PriceModel:
    if model_format == "lightgbm-blend":
        from lambda_fn.core.boosted import BoostedPrices

        return BoostedPrices.load(files)
    if model_format == "sklearn-pickle":
        from lambda_fn.core.pickled import PickledEstimator

        return PickledEstimator.load(files)
    raise ModelFormatError(f"unknown model format {model_format!r}")


class Predictor:
    def __init__(self, *, metadata: Mapping[str, Any], model: PriceModel, features: Sequence[str],
                 demographics: Mapping[str, Mapping[str, float]], sales_csv: bytes | None = None) -> None:
        self.metadata = dict(metadata)
        self.name: str = self.metadata["name"]
        self.version: str = self.metadata["version"]
        self.model = model
        self.features = FeatureBuilder(features, demographics)
        self.required_fields = self.features.required_fields
        self.zipcodes = self.features.zipcodes
        self.demographic_fields = sorted(next(iter(demographics.values())))
        try:
            areas, interval, market = (self.metadata.get(key) for key in ("zipcode_areas", "interval", "market"))
            self._areas = ZipcodeAreas(areas) if areas else None
            self._intervals = PriceIntervals(interval) if interval else None
            self._market = MarketMonths(market["first_month"], market["last_month"]) if market else None
        except (KeyError, TypeError, ValueError) as error:
            raise ModelFormatError(f"{self.name} {self.version}: unreadable metadata: {error!r}") from error
        recorded = self.metadata.get("required_fields", self.required_fields)   # what /v1/models lists unloaded
        if recorded != self.required_fields:
            raise ModelFormatError(f"{self.name} {self.version}: metadata lists required fields {recorded}, "
                                   f"its features need {self.required_fields}")
        if self.features.uses_market_month != (self._market is not None):
            raise ModelFormatError(f"{self.name} {self.version}: the market month is a feature exactly when "
                                   "the metadata has a market")
        self.interval_coverage: float | None = self._intervals.coverage if self._intervals else None
        self.explains = bool(self.metadata.get("explains"))
        self._sales_csv = sales_csv
        if self.explains:
            if not isinstance(model, ExplainingModel) or sales_csv is None or self._market is None:
                raise ModelFormatError(f"{self.name} {self.version}: the metadata says it explains its prices, but "
                                       f"its model, {SALES_FILE} or market index is missing")
            self._grouping = Grouping(model.explained_columns, self.demographic_fields)

    @classmethod
    def from_files(cls, files: Mapping[str, bytes], metadata: Mapping[str, Any]) -> Predictor:
        """Build from a version's verified files (this parses and, for a pickled model, unpickles).
        Anything wrong in them raises ModelFormatError, never another error."""
        files = VersionFiles(files)
        try:
            features = json.loads(files.text(FEATURES_FILE))
            model = load_model(str(metadata.get("format")), files)
            if getattr(model, "features", features) != features:   # a blend names the columns it was fitted on
                raise ModelFormatError(f"{FEATURES_FILE} and the model's own files name different features")
            return cls(metadata=metadata, model=model, features=features,
                       demographics=parse_demographics(files.text(DEMOGRAPHICS_FILE)),
                       sales_csv=files.get(SALES_FILE))
        except ModelFormatError:
            raise
        except Exception as error:  # whatever a corrupt or inconsistent file raises, it must never reach serving
            raise ModelFormatError(f"{metadata.get('name')} {metadata.get('version')} could not be loaded: "
                                   f"{type(error).__name__}: {error}") from error

    @property
    def has_interval(self) -> bool:
        return self._intervals is not None

    def priced_month(self, asked_on: datetime.date) -> str | None:
        """The month of the data a price asked on ``asked_on`` is set at; None for a model that
        prices at the average of its data. A day before the data raises ``AskedBeforeDataError``."""
        return self._market.priced_month(asked_on) if self._market else None

    def predict(self, houses: Sequence[Mapping[str, Any]],
                asked_on: datetime.date | Sequence[datetime.date]) -> list[float]:
        """Prices in USD, rounded to the cent, as asked for on ``asked_on``: one day for every house
        or one per house (training sales priced on the day they sold)."""
        if self._market:
            self._market.check(asked_on)
        return self._prices(houses, asked_on)

    def _prices(self, houses: Sequence[Mapping[str, Any]],
                asked_on: datetime.date | Sequence[datetime.date]) -> list[float]:
        return _to_the_cent(self.model.predict(self.features.matrix(houses, asked_on=asked_on)))

    def price(self, houses: Sequence[Mapping[str, Any]], asked_on: datetime.date) -> Pricing:
        """Everything an answer states: prices, their ranges and the month they are set at. The day
        is checked once, by working out its month."""
        market_month = self.priced_month(asked_on)
        return self._pricing(houses, self._prices(houses, asked_on), market_month)

    def _pricing(self, houses: Sequence[Mapping[str, Any]], prices: list[float], market_month: str | None) -> Pricing:
        warnings = self._areas.outside(houses) if self._areas else []
        return Pricing(prices, self.intervals(prices) if self._intervals else None, market_month, warnings)

    def explain(self, houses: Sequence[Mapping[str, Any]],
                asked_on: datetime.date) -> tuple[Pricing, list[Explanation]]:
        """``price``'s answer, and an ``Explanation`` per house. A model that does not explain raises
        ``CannotExplainError``."""
        if not self.explains:
            raise CannotExplainError(self.name)
        model: ExplainingModel = self.model   # type: ignore[assignment]  # checked when loaded
        market_month = self.priced_month(asked_on)
        x = self.features.matrix(houses, asked_on=asked_on)
        prices = _to_the_cent(model.predict(x))
        baseline, shares = model.log_contributions(x)
        contributions = self._grouping.in_dollars(baseline, self._grouping.log_shares(shares), prices)
        index_now = float(model.index_at(np.array([month_number_of(asked_on)], dtype=np.float64))[0])
        explanations = [Explanation(grouped, *self._comparables(house, model, index_now))
                        for house, grouped in zip(houses, contributions, strict=True)]
        return self._pricing(houses, prices, market_month), explanations

    def _comparables(self, house: Mapping[str, Any], model: ExplainingModel,
                     index_now: float) -> tuple[list[Comparable], list[float]]:
        """The sales most like ``house``, and each one's price moved from its month to ``index_now``'s."""
        comparables = self._sales.most_like(house, COMPARABLES)
        sold_in = [month_number_of(datetime.date.fromisoformat(c.sale_date)) for c in comparables]
        moves = np.exp(index_now - model.index_at(np.array(sold_in, dtype=np.float64)))
        return comparables, [round(c.sale_price * float(move), 2) for c, move in zip(comparables, moves, strict=True)]

    @cached_property
    def _sales(self) -> SaleRecords:
        # Parsed on the first explanation only (0.1 s here, with its KD-tree): most requests never need it.
        from lambda_fn.core.comparables import SaleRecords

        return SaleRecords.from_csv(self._sales_csv or b"")

    def intervals(self, prices: Sequence[float]) -> list[tuple[float, float]]:
        """The (low, high) range around each price holding ``interval_coverage`` of sale prices."""
        if self._intervals is None:
            raise ModelFormatError(f"{self.name} {self.version} has no prediction interval")
        return self._intervals(prices)

    def smoke_test(self) -> None:
        """Re-price the held-out houses recorded at training; raise ModelFormatError on any difference."""
        recorded = self.metadata.get("smoke_test")
        try:
            days = [datetime.date.fromisoformat(day) for day in recorded["asked_on"]]
            prices = self.predict(recorded["houses"], days)
        except Exception as error:  # a malformed record is a broken version, not a crash
            raise ModelFormatError(f"{self.name} {self.version} has no usable smoke test in its metadata: "
                                   f"{type(error).__name__}: {error}") from error
        if prices != recorded["prices"]:
            raise ModelFormatError(f"{self.name} {self.version} failed its smoke test: priced {prices}, "
                                   f"training recorded {recorded['prices']}")
        if "intervals" in recorded and [list(i) for i in self.intervals(prices)] != recorded["intervals"]:
            raise ModelFormatError(f"{self.name} {self.version} failed its smoke test: intervals differ from training")
