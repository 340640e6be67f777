"""The improved price model: gradient-boosted trees on log price per square foot.

``GradientBoostedPrices`` is the estimator pickled in the ``gbm`` artifact (it lives here, not in
``model/``, because the runtime image carries only ``lambda_fn/``). It learns
``log(price / sqft_living)``: prices are multiplicative (a 10% error on a $300k and on a $3M home
weigh the same) and price per square foot varies far more smoothly than price, which trees fit
better. Before the trees, a ``NeighbourhoodPriceEncoder`` adds what nearby homes sold for.

Prediction walks the trees with ``CompiledTrees`` for a few houses and with scikit-learn's own
loop for large batches; both give bit-identical numbers (tested), so the path never shows in a price.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.utils.validation import check_is_fitted

from lambda_fn.compiled_trees import CompiledTrees
from lambda_fn.neighbourhood import NeighbourhoodPriceEncoder

# Up to this many houses the compiled walk is faster (measured on 800 trees, one thread: 1 house
# 0.26 ms against scikit-learn's 6.3 ms, 32 houses 5.0 against 6.4 ms; they cross near 40).
COMPILED_MAX_ROWS = 32


class GradientBoostedPrices(RegressorMixin, BaseEstimator):
    """Prices in USD from a feature matrix whose ``sqft_living_column`` holds the living area."""

    def __init__(self, *, encoder: NeighbourhoodPriceEncoder | None = None,
                 regressor: HistGradientBoostingRegressor | None = None, sqft_living_column: int = 0) -> None:
        self.encoder = encoder
        self.regressor = regressor
        self.sqft_living_column = sqft_living_column

    def _log_area(self, x: np.ndarray) -> np.ndarray:
        return np.log(x[:, self.sqft_living_column])

    def fit(self, x: np.ndarray, y: np.ndarray) -> GradientBoostedPrices:
        x = np.asarray(x, dtype=np.float64)
        target = np.log(np.asarray(y, dtype=np.float64)) - self._log_area(x)
        self.encoder_ = clone(self.encoder if self.encoder is not None else NeighbourhoodPriceEncoder())
        encoded = self.encoder_.fit_transform(x, target)
        self.regressor_ = clone(self.regressor if self.regressor is not None else HistGradientBoostingRegressor())
        self.regressor_.fit(encoded, target)
        self.trees_ = CompiledTrees(self.regressor_)
        self.n_features_in_ = x.shape[1]
        return self

    def predict_log_price_per_sqft(self, x: np.ndarray) -> np.ndarray:
        check_is_fitted(self, "trees_")
        encoded = self.encoder_.transform(np.asarray(x, dtype=np.float64))
        if len(encoded) <= COMPILED_MAX_ROWS:
            return self.trees_.predict(encoded)
        return self.regressor_.predict(encoded)

    def predict(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        return np.exp(self.predict_log_price_per_sqft(x) + self._log_area(x))
