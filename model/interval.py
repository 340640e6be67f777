"""80% price ranges by split-conformal calibration on cross-validation residuals, per price band.

Out-of-fold estimates of the training part (5-fold CV) give residuals ``log(actual / estimated)``.
Within each band of *estimated* price (``BAND_EDGES``), their 10th and 90th percentiles become
the band's offsets (Mondrian conformal: a calibration per group an agent can see, since the
estimate is known when the range is given). One global width would hold only about 70% of the
cheapest and most expensive homes' prices and 85% of mid-priced ones (measured on the held-out
part); per band each holds about 80%. ``lambda_fn.core.intervals.PriceIntervals`` applies them.
"""

from __future__ import annotations

import numpy as np

from model import cv

COVERAGE = 0.8
BAND_EDGES = (250_000, 400_000, 600_000, 800_000, 1_200_000)   # USD, of the estimate
METHOD = ("split-conformal per band of estimated price: 10th/90th percentiles of out-of-fold "
          "log(actual/estimated) over 5-fold CV of the training part")


def log_residuals(actual, predicted) -> np.ndarray:
    return np.log(np.asarray(actual, dtype=float)) - np.log(np.asarray(predicted, dtype=float))


def bands(estimates) -> np.ndarray:
    """Band index per estimate, by the rule ``PriceIntervals.band`` applies when serving."""
    return np.digitize(np.asarray(estimates, dtype=float), BAND_EDGES)


def offsets(residuals: np.ndarray, estimates: np.ndarray, coverage: float = COVERAGE) -> list[dict[str, float]]:
    tail = (1 - coverage) / 2
    band = bands(estimates)
    result = []
    for b in range(len(BAND_EDGES) + 1):
        low, high = np.quantile(residuals[band == b], [tail, 1 - tail])
        result.append({"low": float(low), "high": float(high)})
    return result


def covered(residuals: np.ndarray, estimates: np.ndarray, band_offsets: list[dict[str, float]]) -> np.ndarray:
    lows = np.array([o["low"] for o in band_offsets])[bands(estimates)]
    highs = np.array([o["high"] for o in band_offsets])[bands(estimates)]
    return (residuals >= lows) & (residuals <= highs)


def cross_conformal_coverage(actual, cv_estimates) -> float:
    """Honest CV coverage: each fold's ranges use offsets learnt from the other folds only."""
    actual, cv_estimates = np.asarray(actual, dtype=float), np.asarray(cv_estimates, dtype=float)
    residuals = log_residuals(actual, cv_estimates)
    inside = np.zeros(len(residuals), dtype=bool)
    for fit_rows, check_rows in cv.folds(len(residuals)):
        band_offsets = offsets(residuals[fit_rows], cv_estimates[fit_rows])
        inside[check_rows] = covered(residuals[check_rows], cv_estimates[check_rows], band_offsets)
    return float(inside.mean())


def calibrate(actual, cv_estimates) -> dict:
    """The ``interval`` metadata entry read by ``lambda_fn.core.intervals.PriceIntervals``."""
    return {
        "coverage": COVERAGE,
        "method": METHOD,
        "band_edges": list(BAND_EDGES),
        "log_offsets": offsets(log_residuals(actual, cv_estimates), np.asarray(cv_estimates, dtype=float)),
        "cv_coverage": cross_conformal_coverage(actual, cv_estimates),
    }


def coverage(actual, low, high) -> float:
    """Share of actual prices inside [low, high]."""
    actual = np.asarray(actual, dtype=float)
    return float(((actual >= np.asarray(low)) & (actual <= np.asarray(high))).mean())
