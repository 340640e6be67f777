"""Cross-validation shared by every model: the same 5 folds of the training part, one thread per fit.

Each fit and prediction runs on exactly one native thread, whatever the machine, so scores and
models do not depend on the core count (see ``lambda_fn/predictor.py``); the folds run side by
side in ``JOBS`` worker processes instead.
"""

from __future__ import annotations

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import clone
from sklearn.model_selection import KFold
from threadpoolctl import threadpool_limits

FOLDS = 5
RANDOM_STATE = 42
JOBS = 2


def folds(n_rows: int) -> list[tuple[np.ndarray, np.ndarray]]:
    return list(KFold(FOLDS, shuffle=True, random_state=RANDOM_STATE).split(np.arange(n_rows)))


def fit(estimator, x, y):
    """A fresh, fitted clone of ``estimator``, fitted on one thread."""
    with threadpool_limits(limits=1):
        return clone(estimator).fit(x, y)


def predict(model, x) -> np.ndarray:
    with threadpool_limits(limits=1):
        return np.asarray(model.predict(x), dtype=np.float64)


def _fit_predict(estimator, x, y, fit_rows, predict_rows):
    return predict_rows, predict(fit(estimator, x[fit_rows], y[fit_rows]), x[predict_rows])


def cv_predictions(estimator, x: np.ndarray, y: np.ndarray, *, n_jobs: int = JOBS) -> np.ndarray:
    """Out-of-fold predictions: each row predicted by a model fitted on the other four folds."""
    x, y = np.asarray(x), np.asarray(y)
    predictions = np.empty(len(y), dtype=np.float64)
    results = Parallel(n_jobs=n_jobs)(delayed(_fit_predict)(estimator, x, y, fit_rows, predict_rows)
                                      for fit_rows, predict_rows in folds(len(y)))
    for rows, values in results:
        predictions[rows] = values
    return predictions
