"""The prediction core: a verified model artifact in, prices out. Knows nothing of HTTP.

Every front door (Lambda handler, ECS/local HTTP server, evaluation, benchmarks) prices houses
through ``Predictor.predict``. A model whose metadata carries an ``interval`` (offsets learnt
from cross-validation residuals, see ``lambda_fn/intervals.py``) also gives a range per price
through ``Predictor.intervals``. A model that learnt the market's months (metadata ``market``)
prices each house at the month of ``asked_on``, the day the price is asked for (today by
default); ``Predictor.priced_month`` says which month of the data that is.

Prices are made independent of the machine: scikit-learn's nearest-neighbour search runs one
OpenMP thread per core, and the client's KNN breaks distance ties differently with one thread
than with two (measured: 2 of the 100 future houses change price). Every prediction runs with
the native pools (OpenMP, BLAS) limited to one thread, so a 2-core laptop, a 6-vCPU Lambda and
a Fargate task return the same price to the cent; it also keeps several server processes on a
small machine from oversubscribing its cores. The limit is taken per call (about 20 us) because
OpenMP keeps its thread count per calling thread: a process-wide setting made on the main
thread does not reach a server's worker threads.
"""

from __future__ import annotations

import datetime
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

from threadpoolctl import ThreadpoolController

from lambda_fn.artifacts import ArtifactError, ModelArtifact
from lambda_fn.features import FeatureBuilder
from lambda_fn.intervals import PriceIntervals
from lambda_fn.locations import ZipcodeAreas
from lambda_fn.market import MarketMonths, today

# Predictors pass numpy matrices built in model_features.json order, which scikit-learn cannot
# check by name; the order is guaranteed (and tested) by FeatureBuilder instead.
warnings.filterwarnings("ignore", message="X does not have valid feature names")


class Predictor:
    def __init__(self, artifact: ModelArtifact) -> None:
        self.artifact = artifact
        self.metadata = artifact.metadata
        self.name = artifact.name
        self.version = artifact.version
        self._estimator = artifact.estimator
        self._features = FeatureBuilder(artifact.features, artifact.demographics)
        self.required_fields = self._features.required_fields
        self.zipcodes = self._features.zipcodes
        self.demographic_fields = sorted(next(iter(artifact.demographics.values())))
        areas = self.metadata.get("zipcode_areas")
        self._areas = ZipcodeAreas(areas) if areas else None  # versions trained before it: no check
        interval = self.metadata.get("interval")
        try:
            self._intervals = PriceIntervals(interval) if interval else None
        except (KeyError, TypeError, ValueError) as error:
            raise ArtifactError(f"{self.name} {self.version} has an unreadable interval: {error!r}") from error
        self.interval_coverage: float | None = self._intervals.coverage if self._intervals else None
        self._market = self._market_months(self.metadata.get("market"))
        # Created after unpickling, so it sees the native libraries the estimator loaded.
        self._threadpools = ThreadpoolController()

    def _market_months(self, market: Mapping[str, Any] | None) -> MarketMonths | None:
        if not self._features.uses_market_month:
            return None
        try:
            return MarketMonths(market["first_month"], market["last_month"])
        except (KeyError, TypeError, ValueError) as error:
            raise ArtifactError(f"{self.name} {self.version} prices by market month but its metadata has no "
                                f"readable market: {error!r}") from error

    @property
    def has_interval(self) -> bool:
        return self._intervals is not None

    def priced_month(self, asked_on: datetime.date | None = None, *, asked_on_field: str = "asked_on") -> str | None:
        """The month of the data a price asked on ``asked_on`` (today by default) is priced at, as
        ``"2015-05"``; None for a model that does not price by month (an average of its data). A
        day before the data raises ``AskedBeforeDataError`` naming ``asked_on_field``."""
        if self._market is None:
            return None
        return self._market.priced_month(asked_on or today(), field=asked_on_field)

    def predict(self, houses: Sequence[Mapping[str, Any]], *, field_prefix: str = "",
                asked_on: datetime.date | Sequence[datetime.date] | None = None,
                asked_on_field: str = "asked_on") -> list[float]:
        """Prices in USD, rounded to the cent, in input order, as asked for on ``asked_on``: one day
        (today by default) or one per house. ``field_prefix`` and ``asked_on_field`` name the input
        in error messages (the handler passes its own names)."""
        if self._areas:
            self._areas.check(houses, field_prefix=field_prefix)
        asked_on = asked_on or today()
        if self._market is not None:
            for day in [asked_on] if isinstance(asked_on, datetime.date) else set(asked_on):
                self._market.priced_month(day, field=asked_on_field)   # refuses a day before the data
        x = self._features.matrix(houses, field_prefix=field_prefix, asked_on=asked_on)
        with self._threadpools.limit(limits=1):
            prices = self._estimator.predict(x)
        return [round(float(price), 2) for price in prices]

    def intervals(self, prices: Sequence[float]) -> list[tuple[float, float]]:
        """The (low, high) range around each price holding ``interval_coverage`` of sale prices."""
        if self._intervals is None:
            raise ArtifactError(f"{self.name} {self.version} has no prediction interval")
        return self._intervals(prices)

    def smoke_test(self) -> None:
        """Re-price the held-out houses recorded at training; raise ArtifactError on any difference."""
        recorded = self.metadata.get("smoke_test")
        if not recorded or not recorded.get("houses"):
            raise ArtifactError(f"{self.name} {self.version} has no smoke test in its metadata")
        days = recorded.get("asked_on")   # the day each house sold, for a model priced by month
        asked_on = [datetime.date.fromisoformat(day) for day in days] if days else None
        prices = self.predict(recorded["houses"], asked_on=asked_on)
        if prices != recorded["prices"]:
            raise ArtifactError(f"{self.name} {self.version} failed its smoke test: priced {prices}, "
                                f"training recorded {recorded['prices']}")
        if "intervals" in recorded and [list(i) for i in self.intervals(prices)] != recorded["intervals"]:
            raise ArtifactError(f"{self.name} {self.version} failed its smoke test: intervals differ from training")
