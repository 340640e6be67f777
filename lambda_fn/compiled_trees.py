"""A fitted ``HistGradientBoostingRegressor``'s trees as flat numpy arrays, for pricing a few houses fast.

scikit-learn predicts tree by tree, with a Python call and an OpenMP region per tree: about 7 us
each, so 11 ms for one house through the gbm's 4 x 400 trees. Here every tree is walked at once, one level per
numpy step, so one house costs about 20 numpy operations per level whatever the number of trees.
For large batches scikit-learn's own loop is faster; ``GradientBoostedPrices`` picks per call.

The result is bit-for-bit scikit-learn's: the same comparisons (``x <= threshold``, NaN to the
side the tree learnt) and the same summation order (the baseline, then each tree in turn, as
``_raw_predict`` adds them). A test compares both on thousands of houses.
"""

from __future__ import annotations

import numpy as np
from sklearn.ensemble import HistGradientBoostingRegressor

IDENTITY_LINK_LOSSES = frozenset({"squared_error", "absolute_error", "quantile"})


class CompiledTrees:
    def __init__(self, gbm: HistGradientBoostingRegressor) -> None:
        if gbm.loss not in IDENTITY_LINK_LOSSES or gbm.n_trees_per_iteration_ != 1:
            raise ValueError(f"only single-output regressors with an identity link; got loss={gbm.loss!r}")
        trees = [iteration[0].nodes for iteration in gbm._predictors]
        if any(nodes["is_categorical"].any() for nodes in trees):
            raise ValueError("categorical splits are not supported")
        sizes = np.array([len(nodes) for nodes in trees], dtype=np.intp)
        self.roots = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.intp)
        nodes = np.concatenate(trees)
        offsets = np.repeat(self.roots, sizes)
        own_index = np.arange(len(nodes), dtype=np.intp)
        leaf = nodes["is_leaf"].astype(bool)
        # A leaf points to itself on both sides, so every house can take max_depth steps.
        self.left = np.where(leaf, own_index, nodes["left"].astype(np.intp) + offsets)
        self.right = np.where(leaf, own_index, nodes["right"].astype(np.intp) + offsets)
        self.feature = np.where(leaf, 0, nodes["feature_idx"]).astype(np.intp)
        self.threshold = nodes["num_threshold"].astype(np.float64)
        self.missing_go_to_left = nodes["missing_go_to_left"].astype(bool)
        self.value = nodes["value"].astype(np.float64)
        self.max_depth = int(nodes["depth"].max())
        self.baseline = float(np.asarray(gbm._baseline_prediction).ravel()[0])
        self.n_features = int(gbm.n_features_in_)

    @property
    def n_trees(self) -> int:
        return len(self.roots)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Raw predictions (the model's target scale), identical to the regressor's ``predict``."""
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.n_features:
            raise ValueError(f"expected a matrix with {self.n_features} columns, got shape {x.shape}")
        rows = np.arange(len(x), dtype=np.intp)[:, None]
        node = np.broadcast_to(self.roots, (len(x), self.n_trees)).copy()
        has_missing = bool(np.isnan(x).any())
        for _ in range(self.max_depth):
            values = x[rows, self.feature[node]]
            go_left = values <= self.threshold[node]
            if has_missing:
                go_left = np.where(np.isnan(values), self.missing_go_to_left[node], go_left)
            node = np.where(go_left, self.left[node], self.right[node])
        # Left to right, as scikit-learn adds them: baseline, tree 1, tree 2, ...
        terms = np.empty((len(x), self.n_trees + 1), dtype=np.float64)
        terms[:, 0] = self.baseline
        terms[:, 1:] = self.value[node]
        return np.cumsum(terms, axis=1)[:, -1]
