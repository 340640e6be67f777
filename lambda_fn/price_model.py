"""The improved price model: gradient-boosted trees on time-adjusted log price per square foot.

``GradientBoostedPrices`` is the estimator pickled in the ``gbm`` artifact (it lives here, not in
``model/``, because the runtime image carries only ``lambda_fn/``). Three ideas, each measured by
cross-validation (``model/gbm.py`` keeps the record):

- Prices are multiplicative and price per square foot varies more smoothly than price, so the
  model learns ``log(price / sqft_living)``.
- The market moved during the data: a ``market index`` (one log offset per month, learnt from how
  each sale compares with its neighbours) takes the month out of every sale before the trees see
  it, and puts back the month the price is asked for (``lambda_fn/market.py``).
- Several boosted models that read the same features through different targets and losses err
  differently; their geometric mean errs less than any one of them. ``members`` lists them as
  ``(target, regressor)``: ``log_price_per_sqft`` and ``log_price`` (squared or absolute error)
  and ``price_per_sqft`` with absolute error weighted by 1/price, which is the percentage error
  itself.

Before the trees a ``NeighbourhoodPriceEncoder`` adds what nearby homes sold for, on the scale
of each member's target: per square foot for the per-sqft members, whole prices for the
``log_price`` ones (measured: members that all see both scales agree more and blend worse). Prediction walks
the trees with ``CompiledTrees`` for a few houses and with scikit-learn's own loop for large
batches; both give bit-identical numbers (tested), so the path never shows in a price.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.utils.validation import check_is_fitted

from lambda_fn.compiled_trees import CompiledTrees
from lambda_fn.neighbourhood import NeighbourhoodPriceEncoder

# Up to this many houses the compiled walk is faster (measured on the 4 x 400 trees, one thread:
# 1 house 0.6 ms against scikit-learn's 11.3 ms, 32 houses 10.7 against 13.4 ms). They crossed near
# 48 on a quiet machine and near 32 under load, so 32: where the compiled walk wins either way.
COMPILED_MAX_ROWS = 32
TARGETS = ("log_price_per_sqft", "log_price", "price_per_sqft")
INDEX_NEIGHBOURS = 20   # a sale's month effect: how it compares with the 20 nearest other sales


class GradientBoostedPrices(RegressorMixin, BaseEstimator):
    """Prices in USD from a feature matrix whose ``sqft_living_column`` holds the living area and
    whose ``market_month_column`` holds the month asked for (``lambda_fn.market.market_month``)."""

    def __init__(self, *, encoder: NeighbourhoodPriceEncoder | None = None,
                 members: Sequence[tuple[str, HistGradientBoostingRegressor]] = (),
                 sqft_living_column: int = 0, market_month_column: int = 1) -> None:
        self.encoder = encoder
        self.members = members
        self.sqft_living_column = sqft_living_column
        self.market_month_column = market_month_column

    # -- market index ---------------------------------------------------------------------------
    def _months(self, x: np.ndarray) -> np.ndarray:
        """Row index into ``market_index_``: the month asked, after the data's last month -> the last."""
        months = x[:, self.market_month_column]
        if np.isnan(months).any() or (months < self.first_month_).any():
            raise ValueError(f"market months must be {self.first_month_} or later")
        return (np.minimum(months, self.last_month_) - self.first_month_).astype(np.intp)

    def _fit_market_index(self, x: np.ndarray, log_ppsf: np.ndarray) -> np.ndarray:
        months = x[:, self.market_month_column]
        self.first_month_, self.last_month_ = int(months.min()), int(months.max())
        rows = (months - self.first_month_).astype(np.intp)
        # Each sale against its neighbours' sales (out of fold, so never against itself): what is
        # left after location is mostly the house and the month; averaged per month, the month.
        encoder = NeighbourhoodPriceEncoder(lat_column=self.encoder_.lat_column,
                                            long_column=self.encoder_.long_column,
                                            neighbours=(INDEX_NEIGHBOURS,), n_folds=self.encoder_.n_folds,
                                            random_state=self.encoder_.random_state)
        residual = log_ppsf - encoder.fit_transform(self._tree_columns(x), log_ppsf)[:, -1]
        count = np.bincount(rows, minlength=self.last_month_ - self.first_month_ + 1)
        if (count == 0).any():
            raise ValueError("every month between the first and the last sale needs sales")
        index = np.bincount(rows, weights=residual) / count
        self.market_index_ = index - np.average(index, weights=count)
        return self.market_index_[rows]

    # -- features and targets -------------------------------------------------------------------
    def _tree_columns(self, x: np.ndarray) -> np.ndarray:
        # The month reaches prices through the index only; trees cannot extrapolate it anyway.
        return np.delete(x, self.market_month_column, axis=1)

    def _log_area(self, x: np.ndarray) -> np.ndarray:
        return np.log(x[:, self.sqft_living_column])

    def _member_columns(self, target: str, encoded: np.ndarray) -> np.ndarray:
        """The house's columns and the neighbours' prices on the member's scale (the encoder
        appends per-sqft means, then whole-price means, one per neighbour count)."""
        per_scale = len(self.encoder_.neighbours)
        house_columns = encoded.shape[1] - 2 * per_scale
        scale = 1 if target == "log_price" else 0
        start = house_columns + scale * per_scale
        return np.hstack([encoded[:, :house_columns], encoded[:, start:start + per_scale]])

    @staticmethod
    def _member_target(target: str, adjusted: np.ndarray, log_area: np.ndarray):
        """(training target, sample weights) for a member, from the adjusted log price per sqft."""
        if target == "log_price_per_sqft":
            return adjusted, None
        if target == "log_price":
            return adjusted + log_area, None
        if target == "price_per_sqft":   # |y - p| / y == |ppsf - q| / ppsf: absolute error weighted 1/ppsf
            per_sqft = np.exp(adjusted)
            weights = 1.0 / per_sqft
            return per_sqft, weights / weights.mean()
        raise ValueError(f"unknown target {target!r}; known: {', '.join(TARGETS)}")

    @staticmethod
    def _member_log_ppsf(target: str, raw: np.ndarray, log_area: np.ndarray) -> np.ndarray:
        if target == "log_price_per_sqft":
            return raw
        if target == "log_price":
            return raw - log_area
        return np.log(np.maximum(raw, 1e-6))   # price_per_sqft: absolute error never goes below 0 here

    def fit(self, x: np.ndarray, y: np.ndarray) -> GradientBoostedPrices:
        x = np.asarray(x, dtype=np.float64)
        if not self.members:
            raise ValueError("GradientBoostedPrices needs at least one (target, regressor) member")
        log_area = self._log_area(x)
        log_ppsf = np.log(np.asarray(y, dtype=np.float64)) - log_area
        self.encoder_ = clone(self.encoder if self.encoder is not None else NeighbourhoodPriceEncoder())
        adjusted = log_ppsf - self._fit_market_index(x, log_ppsf)
        encoded = self.encoder_.fit_transform(self._tree_columns(x), np.column_stack([adjusted, adjusted + log_area]))
        self.members_ = []
        for target, regressor in self.members:
            values, weights = self._member_target(target, adjusted, log_area)
            fitted = clone(regressor).fit(self._member_columns(target, encoded), values, sample_weight=weights)
            self.members_.append((target, fitted, CompiledTrees(fitted)))
        self.n_features_in_ = x.shape[1]
        return self

    def predict_log_price_per_sqft(self, x: np.ndarray) -> np.ndarray:
        """Log price per sqft at the month asked (the members' mean, plus that month's index)."""
        check_is_fitted(self, "members_")
        x = np.asarray(x, dtype=np.float64)
        month_offset = self.market_index_[self._months(x)]
        encoded = self.encoder_.transform(self._tree_columns(x))
        log_area = self._log_area(x)
        compiled = len(encoded) <= COMPILED_MAX_ROWS
        total = np.zeros(len(x))
        for target, regressor, trees in self.members_:
            columns = self._member_columns(target, encoded)
            raw = trees.predict(columns) if compiled else regressor.predict(columns)
            total += self._member_log_ppsf(target, raw, log_area)
        return total / len(self.members_) + month_offset

    def predict(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        return np.exp(self.predict_log_price_per_sqft(x) + self._log_area(x))
