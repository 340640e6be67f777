"""Cross-validation shared by every model: the same 5 folds of the training part, one thread per fit.

Each fit and prediction runs on exactly one native thread, whatever the machine, so scores and
models do not depend on the core count (see ``lambda_fn/core/predictor.py``); the folds run side by
side in ``JOBS`` worker processes instead.
"""

from __future__ import annotations

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import clone
from sklearn.model_selection import GroupKFold, KFold
from threadpoolctl import threadpool_limits

FOLDS = 5
RANDOM_STATE = 42
JOBS = 2


def folds(n_rows: int) -> list[tuple[np.ndarray, np.ndarray]]:
    return list(KFold(FOLDS, shuffle=True, random_state=RANDOM_STATE).split(np.arange(n_rows)))


def folds_by_house(house_ids) -> list[tuple[np.ndarray, np.ndarray]]:
    """Folds that keep every sale of one house together: a house sold twice in the data is never
    priced by a model that learnt its other sale (the neighbour prices would find it at 0 km)."""
    house_ids = np.asarray(house_ids)
    splitter = GroupKFold(FOLDS, shuffle=True, random_state=RANDOM_STATE)
    return list(splitter.split(np.arange(len(house_ids)), groups=house_ids))


def fit(estimator, x, y):
    """A fresh, fitted clone of ``estimator``, fitted on one thread."""
    with threadpool_limits(limits=1):
        return clone(estimator).fit(x, y)


def predict(model, x) -> np.ndarray:
    with threadpool_limits(limits=1):
        return np.asarray(model.predict(x), dtype=np.float64)


def _fit_predict(estimator, x, y, fit_rows, predict_rows):
    return predict_rows, predict(fit(estimator, x[fit_rows], y[fit_rows]), x[predict_rows])


def cv_predictions(estimator, x: np.ndarray, y: np.ndarray, *, n_jobs: int = JOBS,
                   split: list[tuple[np.ndarray, np.ndarray]] | None = None) -> np.ndarray:
    """Out-of-fold predictions: each row predicted by a model fitted on the other four folds
    (``split``: other folds than the shared ``folds``, e.g. ``folds_by_house``)."""
    x, y = np.asarray(x), np.asarray(y)
    results = Parallel(n_jobs=n_jobs)(delayed(_fit_predict)(estimator, x, y, fit_rows, predict_rows)
                                      for fit_rows, predict_rows in split or folds(len(y)))
    return _assembled(results, len(y))


def fit_with_cv_predictions(estimator, x: np.ndarray, y: np.ndarray, *, n_jobs: int = JOBS):
    """``fit(estimator, x, y)`` and ``cv_predictions(estimator, x, y)`` from one pool of workers: the
    full fit runs beside the folds rather than after them (five folds leave a worker idle)."""
    x, y = np.asarray(x), np.asarray(y)
    fitted, *results = Parallel(n_jobs=n_jobs)(
        [delayed(fit)(estimator, x, y)] + [delayed(_fit_predict)(estimator, x, y, fit_rows, predict_rows)
                                           for fit_rows, predict_rows in folds(len(y))])
    return fitted, _assembled(results, len(y))


def _assembled(results, rows: int) -> np.ndarray:
    predictions = np.empty(rows, dtype=np.float64)
    for predicted_rows, values in results:
        predictions[predicted_rows] = values
    return predictions
