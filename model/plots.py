"""The evaluation's pictures, drawn for a real-estate manager: dollars, percents, plain titles.

Each function takes plain arrays and writes one PNG; ``model/evaluate.py`` decides what to plot.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import FuncFormatter, PercentFormatter

from model.interval import BAND_EDGES

matplotlib.use("Agg")  # files only, no display
matplotlib.rcParams["text.parse_math"] = False  # "$250k–$400k" is money, not a formula

PRICE_BANDS = (0, *BAND_EDGES, np.inf)   # the interval's bands, so tables and charts agree
DPI = 110


def _dollars(value: float, _position: object = None) -> str:
    return f"${value / 1e6:.1f}M" if value >= 1e6 else f"${value / 1e3:.0f}k"


def band_labels(bands: Sequence[float] = PRICE_BANDS) -> list[str]:
    labels = []
    for low, high in itertools.pairwise(bands):
        labels.append(f"over {_dollars(low)}" if np.isinf(high) else
                      f"under {_dollars(high)}" if low == 0 else f"{_dollars(low)}–{_dollars(high)}")
    return labels


def band_of(prices: np.ndarray, bands: Sequence[float] = PRICE_BANDS) -> np.ndarray:
    return np.digitize(prices, bands[1:-1])


def predicted_vs_actual(path: Path, actual: np.ndarray, predicted: np.ndarray, title: str) -> None:
    fig, ax = plt.subplots(figsize=(7, 6.5))
    ape = np.abs(predicted - actual) / actual
    colours = np.where(ape <= 0.10, "#2a9d8f", np.where(ape <= 0.20, "#e9c46a", "#e76f51"))
    ax.scatter(actual, predicted, s=6, c=colours, alpha=0.6, linewidths=0)
    line = np.array([actual.min() * 0.8, actual.max() * 1.2])
    ax.plot(line, line, color="black", lw=1, label="perfect estimate")
    ax.fill_between(line, line * 0.8, line * 1.2, color="grey", alpha=0.12, label="within 20% of the sale price")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(*line)
    ax.set_ylim(*line)
    for axis in (ax.xaxis, ax.yaxis):
        axis.set_major_formatter(FuncFormatter(_dollars))
        axis.set_minor_formatter(FuncFormatter(lambda v, _p: ""))
    ax.set_xlabel("sale price (held-out homes)")
    ax.set_ylabel("model's estimate")
    for colour, label in (("#2a9d8f", "within 10%"), ("#e9c46a", "10–20% off"), ("#e76f51", "more than 20% off")):
        ax.scatter([], [], c=colour, s=20, label=f"{label} ({_share(ape, label):.0%})")
    ax.legend(loc="upper left", fontsize=9)
    ax.set_title(title)
    ax.grid(alpha=0.3, which="major")
    _save(fig, path)


def _share(ape: np.ndarray, label: str) -> float:
    if label == "within 10%":
        return float((ape <= 0.10).mean())
    if label == "10–20% off":
        return float(((ape > 0.10) & (ape <= 0.20)).mean())
    return float((ape > 0.20).mean())


def error_by_price_band(path: Path, actual: np.ndarray, predictions: dict[str, np.ndarray], title: str) -> None:
    """Median and mean absolute % error per sale-price band, one bar group per model."""
    labels = band_labels()
    bands = band_of(actual)
    counts = np.bincount(bands, minlength=len(labels))
    fig, ax = plt.subplots(figsize=(9, 5))
    width = 0.8 / len(predictions)
    for i, (name, predicted) in enumerate(predictions.items()):
        ape = np.abs(predicted - actual) / actual
        medians = [np.median(ape[bands == b]) if counts[b] else np.nan for b in range(len(labels))]
        means = [ape[bands == b].mean() if counts[b] else np.nan for b in range(len(labels))]
        x = np.arange(len(labels)) + (i - (len(predictions) - 1) / 2) * width
        bars = ax.bar(x, medians, width, label=f"{name}: median error")
        ax.scatter(x, means, color=bars.patches[0].get_facecolor(), marker="_", s=400, zorder=3,
                   label=f"{name}: mean error (MAPE)")
    ax.set_xticks(np.arange(len(labels)), [f"{label}\n{n:,} homes" for label, n in zip(labels, counts, strict=True)])
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_ylabel("absolute error, % of sale price")
    ax.set_xlabel("sale price band (held-out homes)")
    ax.legend(fontsize=8)
    ax.set_title(title)
    ax.grid(axis="y", alpha=0.3)
    _save(fig, path)


def learning_curve(path: Path, sizes: Sequence[int], train_mape: np.ndarray, validation_mape: np.ndarray,
                   title: str) -> None:
    """Mean and spread over CV folds of the error on the homes fitted and on unseen homes."""
    fig, ax = plt.subplots(figsize=(7, 4.8))
    for values, label, colour in ((train_mape, "homes the model was fitted on", "#264653"),
                                  (validation_mape, "unseen homes (cross-validation)", "#e76f51")):
        mean, spread = values.mean(axis=1), values.std(axis=1)
        ax.plot(sizes, mean, "o-", color=colour, label=label)
        ax.fill_between(sizes, mean - spread, mean + spread, color=colour, alpha=0.15)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_ylim(bottom=0)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:,.0f}"))
    ax.set_xlabel("number of sales the model learnt from")
    ax.set_ylabel("mean absolute % error (MAPE)")
    ax.legend()
    ax.set_title(title)
    ax.grid(alpha=0.3)
    _save(fig, path)


def error_by_zipcode(path: Path, zipcodes: np.ndarray, lat: np.ndarray, long: np.ndarray, actual: np.ndarray,
                     predicted: np.ndarray, title: str) -> None:
    """Left: map of held-out homes coloured by signed error; right: zipcodes ranked by median error."""
    signed = predicted / actual - 1
    ape = np.abs(signed)
    fig, (map_ax, rank_ax) = plt.subplots(1, 2, figsize=(14, 10), gridspec_kw={"width_ratios": [1.7, 1]})
    order = np.argsort(ape)  # the worst drawn last, on top
    points = map_ax.scatter(long[order], lat[order], c=np.clip(signed[order], -0.3, 0.3), cmap="RdBu_r",
                            vmin=-0.3, vmax=0.3, s=7, linewidths=0)
    colourbar = fig.colorbar(points, ax=map_ax, shrink=0.5, pad=0.02, format=PercentFormatter(1.0))
    colourbar.set_label("estimate vs sale price (red: too high, blue: too low)")
    map_ax.set_xlabel("longitude")
    map_ax.set_ylabel("latitude")
    map_ax.set_aspect(1 / np.cos(np.radians(47.5)))
    map_ax.set_title("held-out homes on the map")

    codes = np.unique(zipcodes)
    medians = np.array([np.median(ape[zipcodes == z]) for z in codes])
    counts = np.array([(zipcodes == z).sum() for z in codes])
    ranked = np.argsort(medians)
    rank_ax.barh(np.arange(len(codes)), medians[ranked], color=np.where(medians[ranked] > 0.15, "#e76f51", "#2a9d8f"))
    rank_ax.set_yticks(np.arange(len(codes)), [f"{codes[i]} ({counts[i]})" for i in ranked], fontsize=6.5)
    rank_ax.set_ylim(-0.7, len(codes) - 0.3)
    rank_ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    rank_ax.set_xlabel("median absolute % error")
    rank_ax.set_title("zipcodes ranked, worst at the top\n(held-out homes per zipcode in brackets)", fontsize=10)
    rank_ax.grid(axis="x", alpha=0.3)
    fig.suptitle(title)
    _save(fig, path)


def _save(fig: plt.Figure, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
