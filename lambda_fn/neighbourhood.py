"""What nearby homes sold for: a feature appraisers use, learnt without peeking at the answer.

``NeighbourhoodPriceEncoder`` appends, for each house, the mean target of its k nearest training
houses by distance on the ground, for each k in ``neighbours`` and for each target column (the
price model passes two: log price per square foot and log price). The fitted encoder keeps the
training houses' coordinates (a KD-tree) and targets, so serving needs nothing but the house's
own latitude and longitude.

Leakage: a training house must never see its own price in its features. ``fit_transform`` (what
a pipeline calls while fitting) therefore encodes the training houses *out of fold*: each fold is
encoded from the other folds only, like a house the model has never seen. ``transform`` (every
later call: validation folds, held-out houses, requests) uses all training houses.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.spatial import cKDTree
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.model_selection import KFold
from sklearn.utils.validation import check_is_fitted

KM_PER_DEGREE_LATITUDE = 111.2
KM_PER_DEGREE_LONGITUDE = KM_PER_DEGREE_LATITUDE * float(np.cos(np.radians(47.5)))  # at King County


class NeighbourhoodPriceEncoder(TransformerMixin, BaseEstimator):
    """Appends ``len(neighbours)`` columns per target column: the mean target of the k nearest training houses."""

    def __init__(self, *, lat_column: int = 0, long_column: int = 1, neighbours: Sequence[int] = (5, 20),
                 n_folds: int = 5, random_state: int = 0) -> None:
        self.lat_column = lat_column
        self.long_column = long_column
        self.neighbours = neighbours
        self.n_folds = n_folds
        self.random_state = random_state

    def _km(self, x: np.ndarray) -> np.ndarray:
        return np.column_stack([x[:, self.lat_column] * KM_PER_DEGREE_LATITUDE,
                                x[:, self.long_column] * KM_PER_DEGREE_LONGITUDE])

    def _encode(self, tree: cKDTree, targets: np.ndarray, x: np.ndarray) -> np.ndarray:
        _, nearest = tree.query(self._km(x), k=max(self.neighbours))
        nearest = nearest.reshape(len(x), -1)
        near_targets = targets[nearest]   # houses x neighbours x target columns
        return np.column_stack([near_targets[:, :k, column].mean(axis=1)
                                for column in range(targets.shape[1]) for k in self.neighbours])

    @staticmethod
    def _target_columns(y: np.ndarray) -> np.ndarray:
        y = np.asarray(y, dtype=np.float64)
        return y.reshape(len(y), -1)

    def fit(self, x: np.ndarray, y: np.ndarray) -> NeighbourhoodPriceEncoder:
        x = np.asarray(x, dtype=np.float64)
        self.tree_ = cKDTree(self._km(x))
        self.targets_ = self._target_columns(y).copy()
        self.n_features_in_ = x.shape[1]
        return self

    def transform(self, x: np.ndarray) -> np.ndarray:
        check_is_fitted(self, "tree_")
        x = np.asarray(x, dtype=np.float64)
        return np.hstack([x, self._encode(self.tree_, self.targets_, x)])

    def fit_transform(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:  # type: ignore[override]
        """Fit on every house, but encode each training house from the other folds only."""
        x = np.asarray(x, dtype=np.float64)
        y = self._target_columns(y)
        self.fit(x, y)
        encoded = np.empty((len(x), len(self.neighbours) * y.shape[1]), dtype=np.float64)
        folds = KFold(self.n_folds, shuffle=True, random_state=self.random_state)
        for fit_rows, encode_rows in folds.split(x):
            tree = cKDTree(self._km(x[fit_rows]))
            encoded[encode_rows] = self._encode(tree, y[fit_rows], x[encode_rows])
        return np.hstack([x, encoded])

    def get_feature_names_out(self, input_features: Sequence[str] | None = None) -> np.ndarray:
        names = list(input_features) if input_features is not None else [f"x{i}" for i in range(self.n_features_in_)]
        targets = self.targets_.shape[1]
        return np.array(names + [f"neighbours{k}_mean_target{column if targets > 1 else ''}"
                                 for column in range(targets) for k in self.neighbours], dtype=object)
