"""Regression metrics a real-estate manager can read: errors in dollars and in percent."""

from __future__ import annotations

import numpy as np
from sklearn import metrics


def price_metrics(actual, predicted) -> dict[str, float]:
    actual = np.asarray(actual, dtype=float)
    predicted = np.asarray(predicted, dtype=float)
    relative_error = np.abs(predicted - actual) / actual
    return {
        "mae": float(metrics.mean_absolute_error(actual, predicted)),
        "rmse": float(np.sqrt(metrics.mean_squared_error(actual, predicted))),
        "r2": float(metrics.r2_score(actual, predicted)),
        "mape": float(relative_error.mean()),
        "median_ape": float(np.median(relative_error)),
        "within_10pct": float((relative_error <= 0.10).mean()),
        "within_20pct": float((relative_error <= 0.20).mean()),
    }
