"""How well does a model version generalise to homes it has not seen? Numbers, pictures, plain words.

    python -m model.evaluate                         # the latest version of every model
    python -m model.evaluate --model gbm             # one model
    python -m model.evaluate --folder model/artifacts/gbm/<version>   # any version

For each model: MAE, RMSE, R², MAPE, median absolute % error and the share of homes within 10% and
20% of the sale price, on the training part, the held-out part (the client's 25% split) and 5-fold
cross-validation of the training part; a learning curve; an over/under-fitting verdict; PNG plots
and a Markdown report under ``reports/<model>/`` plus an index comparing the models,
``reports/README.md``.

What is evaluated is what is served: held-out and training prices come from
``lambda_fn.core.predictor.Predictor`` on the houses as clients send them, and the refits for
cross-validation and the learning curve rebuild the version's own recipe (``refittable``) on
matrices built by the serving ``FeatureBuilder``.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.base import clone

from lambda_fn.core.features import HOUSE_COLUMNS
from lambda_fn.core.market import today
from lambda_fn.core.predictor import Predictor
from lambda_fn.registry.artifacts import latest_version_folder, load_predictor
from model import cv, data, gbm, interval, plots
from model.metrics import price_metrics
from model.train import DEFAULT_ARTIFACT_ROOT

DEFAULT_REPORTS = data.PROJECT_ROOT / "reports"
LEARNING_SIZES = (0.1, 0.25, 0.5, 1.0)   # shares of each CV fold's training rows
METRIC_LABELS = {
    "mae": ("MAE", "${:,.0f}"), "rmse": ("RMSE", "${:,.0f}"), "r2": ("R²", "{:.3f}"), "mape": ("MAPE", "{:.2%}"),
    "median_ape": ("median abs. % error", "{:.1%}"), "within_10pct": ("within 10% of sale price", "{:.1%}"),
    "within_20pct": ("within 20% of sale price", "{:.1%}"),
}


@dataclass
class Evaluation:
    name: str
    version: str
    description: str
    metrics: dict[str, dict[str, float]]         # train, held_out, cv
    held_out: pd.DataFrame                       # houses + price + predicted (+ low, high)
    learning_sizes: list[int]
    learning_train_mape: np.ndarray              # sizes x folds
    learning_validation_mape: np.ndarray
    interval: dict[str, Any] | None = None
    market: dict[str, Any] | None = None         # the market index of a model priced by month
    verdict: str = ""
    notes: list[str] = field(default_factory=list)


def _fit_and_score(estimator, x, y, fit_rows, check_rows, size_share, seed, x_asked_today=None):
    rng = np.random.default_rng(seed)
    subset = np.sort(rng.permutation(fit_rows)[: max(1, round(len(fit_rows) * size_share))])
    model = cv.fit(estimator, x[subset], y[subset])
    on_fitted = cv.predict(model, x[subset])
    on_unseen = cv.predict(model, x[check_rows])
    asked_today = cv.predict(model, x_asked_today[check_rows]) if x_asked_today is not None else None
    return len(subset), price_metrics(y[subset], on_fitted)["mape"], on_unseen, asked_today


def learning_curve_and_cv(estimator, x: np.ndarray, y: np.ndarray, *, n_jobs: int = cv.JOBS,
                          x_asked_today: np.ndarray | None = None):
    """One set of refits serves both: the full-size fits of each fold are the 5-fold CV.

    ``x_asked_today``: the same houses as asked for today (a model priced by month prices them
    at its last month); the full-size fits price them too, and the last value returned holds
    those out-of-fold prices (None without it)."""
    folds = cv.folds(len(y))
    jobs = [(f, s) for f in range(len(folds)) for s in range(len(LEARNING_SIZES))]
    results = Parallel(n_jobs=n_jobs)(
        delayed(_fit_and_score)(estimator, x, y, folds[f][0], folds[f][1], LEARNING_SIZES[s], seed=f,
                                x_asked_today=x_asked_today if LEARNING_SIZES[s] == 1.0 else None)
        for f, s in jobs)
    train_mape = np.empty((len(LEARNING_SIZES), len(folds)))
    validation_mape = np.empty_like(train_mape)
    sizes = [0] * len(LEARNING_SIZES)
    cv_predictions = np.empty(len(y))
    cv_asked_today = np.empty(len(y)) if x_asked_today is not None else None
    for (f, s), (size, fitted_mape, on_unseen, asked_today) in zip(jobs, results, strict=True):
        check_rows = folds[f][1]
        sizes[s] = max(sizes[s], size)
        train_mape[s, f] = fitted_mape
        validation_mape[s, f] = price_metrics(y[check_rows], on_unseen)["mape"]
        if LEARNING_SIZES[s] == 1.0:
            cv_predictions[check_rows] = on_unseen
            if cv_asked_today is not None:
                cv_asked_today[check_rows] = asked_today
    return sizes, train_mape, validation_mape, cv_predictions, cv_asked_today


def fit_verdict(name: str, metrics: dict[str, dict[str, float]], sizes: list[int],
                validation_mape: np.ndarray) -> str:
    """Over- or under-fitting, in words, from the train/held-out gap and the learning curve."""
    train, held_out = metrics["train"]["mape"], metrics["held_out"]["mape"]
    curve = validation_mape.mean(axis=1)
    still_learning = curve[-2] - curve[-1]
    findings = []
    if train < 0.7 * held_out:
        findings.append(f"It **over-fits** somewhat: on the homes it learnt from it is off by {train:.1%} on average, "
                        f"on new homes by {held_out:.1%}: part of what it learnt is noise of its own training sales. "
                        "Expect the held-out and cross-validation errors on new homes, not the training error.")
    else:
        findings.append(f"It does **not over-fit much**: {train:.1%} average error on the homes it learnt from "
                        f"against {held_out:.1%} on new homes.")
    if train > 0.10:
        findings.append(f"It **under-fits**: even on homes it has seen it is off by {train:.1%}, so it misses "
                        "information that sets prices (which it is not given, or cannot combine).")
    if still_learning > 0.003:
        findings.append(f"The learning curve is still falling (from {curve[-2]:.1%} with {sizes[-2]:,} sales to "
                        f"{curve[-1]:.1%} with {sizes[-1]:,}): more sales would still help it.")
    else:
        findings.append(f"The learning curve has flattened ({curve[-2]:.1%} with {sizes[-2]:,} sales, "
                        f"{curve[-1]:.1%} with {sizes[-1]:,}): more of the same data would barely help; better "
                        "information about each home would.")
    return " ".join(findings)


def refittable(predictor: Predictor):
    """A fresh, unfitted estimator of the version's recipe: the client's pipeline, or gbm's recipe
    rebuilt from the hyperparameters its metadata records."""
    if predictor.metadata["format"] == "sklearn-pickle":
        return clone(predictor.model.estimator)
    # Versions saved before the local regression took regressors record none, and used none.
    return gbm.make_estimator(predictor.features.features, **{"regressors": (),
                                                              **predictor.metadata["hyperparameters"]})


def evaluate(folder: Path, sales: pd.DataFrame, *, n_jobs: int = cv.JOBS) -> Evaluation:
    predictor = load_predictor(folder)
    metadata = predictor.metadata
    estimator = refittable(predictor)
    train_rows, test_rows = gbm.split(sales)
    houses = sales[list(HOUSE_COLUMNS)]
    train_houses = houses.loc[train_rows].to_dict(orient="records")
    test_houses = houses.loc[test_rows].to_dict(orient="records")
    y_train = sales.loc[train_rows, "price"].to_numpy(dtype=float)
    y_test = sales.loc[test_rows, "price"].to_numpy(dtype=float)

    # Each sale priced as asked for on the day it sold (what the market month means; ignored by
    # models without one).
    train_days, test_days = data.sale_days(sales.loc[train_rows]), data.sale_days(sales.loc[test_rows])
    train_predictions = np.array(predictor.predict(train_houses, train_days))
    test_predictions = np.array(predictor.predict(test_houses, test_days))
    builder = predictor.features
    x_train = builder.matrix(train_houses, asked_on=train_days)
    x_asked_today = builder.matrix(train_houses, asked_on=today()) if builder.uses_market_month else None
    sizes, train_curve, validation_curve, cv_predictions, cv_asked_today = learning_curve_and_cv(
        estimator, x_train, y_train, n_jobs=n_jobs, x_asked_today=x_asked_today)

    metrics = {"train": price_metrics(y_train, train_predictions),
               "held_out": price_metrics(y_test, test_predictions),
               "cv": price_metrics(y_train, cv_predictions)}
    held_out = sales.loc[test_rows, [*HOUSE_COLUMNS, "price"]].assign(predicted=test_predictions)
    evaluation = Evaluation(name=predictor.name, version=predictor.version,
                            description=metadata.get("description", ""), metrics=metrics,
                            held_out=held_out, learning_sizes=sizes, learning_train_mape=train_curve,
                            learning_validation_mape=validation_curve, market=metadata.get("market"))
    if cv_asked_today is not None:
        evaluation.market = {**evaluation.market, "cv_asked_today": price_metrics(y_train, cv_asked_today)}
    # New homes are not resales of training homes: the same CV with each house's sales kept together.
    by_house = cv.cv_predictions(estimator, x_train, y_train, n_jobs=n_jobs,
                                 split=cv.folds_by_house(sales.loc[train_rows, "id"]))
    evaluation.metrics["cv_by_house"] = price_metrics(y_train, by_house)
    if predictor.has_interval:
        low, high = np.array(predictor.intervals(test_predictions.tolist())).T
        held_out["low"], held_out["high"] = low, high
        covered = (y_test >= low) & (y_test <= high)
        band = interval.bands(test_predictions)
        evaluation.interval = {**metadata["interval"], "evaluated_held_out_coverage": float(covered.mean()),
                               "evaluated_median_width_usd": float(np.median(high - low)),
                               "by_band": [{"band": label, "homes": int((band == b).sum()),
                                            "coverage": float(covered[band == b].mean()),
                                            "median_width_usd": float(np.median((high - low)[band == b]))}
                                           for b, label in enumerate(plots.band_labels()) if (band == b).any()]}
    recorded_cv = metadata.get("metrics", {}).get("cv")
    if recorded_cv and not np.isclose(recorded_cv["mape"], metrics["cv"]["mape"], rtol=1e-9):
        evaluation.notes.append(f"CV MAPE recomputed here ({metrics['cv']['mape']:.4%}) differs from the one "
                                f"recorded at training ({recorded_cv['mape']:.4%}).")
    recorded_data = metadata.get("training_data", {})
    if recorded_data and recorded_data != data.fingerprint(*recorded_data):
        evaluation.notes.append("The data files differ from those the model was trained on.")
    evaluation.verdict = fit_verdict(evaluation.name, metrics, sizes, validation_curve)
    return evaluation


def draw(evaluation: Evaluation, out: Path) -> dict[str, str]:
    held = evaluation.held_out
    actual, predicted = held["price"].to_numpy(), held["predicted"].to_numpy()
    name = evaluation.name
    files = {"predicted_vs_actual": "predicted_vs_actual.png", "price_bands": "error_by_price_band.png",
             "learning_curve": "learning_curve.png", "zipcodes": "error_by_zipcode.png"}
    plots.predicted_vs_actual(out / files["predicted_vs_actual"], actual, predicted,
                              f"{name}: estimate against sale price, {len(held):,} held-out homes")
    plots.error_by_price_band(out / files["price_bands"], actual, {name: predicted},
                              f"{name}: error by sale price (held-out homes)")
    plots.learning_curve(out / files["learning_curve"], evaluation.learning_sizes, evaluation.learning_train_mape,
                         evaluation.learning_validation_mape, f"{name}: learning curve (5-fold CV)")
    plots.error_by_zipcode(out / files["zipcodes"], held["zipcode"].to_numpy(), held["lat"].to_numpy(),
                           held["long"].to_numpy(), actual, predicted, f"{name}: where the estimates miss")
    return files


def metrics_table(columns: dict[str, dict[str, float]]) -> str:
    lines = ["| metric | " + " | ".join(columns) + " |", "|---|" + "---:|" * len(columns)]
    for key, (label, fmt) in METRIC_LABELS.items():
        lines.append(f"| {label} | " + " | ".join(fmt.format(m[key]) for m in columns.values()) + " |")
    return "\n".join(lines)


def model_report(evaluation: Evaluation, files: dict[str, str]) -> str:
    m = evaluation.metrics
    lines = [
        f"# Model `{evaluation.name}`, version `{evaluation.version}`",
        "",
        evaluation.description + ".",
        "",
        "Sales of King County homes, May 2014 to May 2015. *Training part*: the 75% the model learnt from; "
        "*held-out*: the client's 25% test split, never seen in training; *5-fold CV*: the training part cut "
        "in five, each fifth priced by a model refitted on the other four; *by house*: the same with every "
        "sale of one house in one fifth (some houses sold twice in the year), so no house is priced by a "
        "model that saw its other sale.",
        "",
        metrics_table({"training part": m["train"], "held-out": m["held_out"], "5-fold CV": m["cv"],
                       "5-fold CV by house": m["cv_by_house"]}),
        "",
        "## Does it generalise?",
        "",
        evaluation.verdict,
        "",
        f"![learning curve]({files['learning_curve']})",
        "",
    ]
    if evaluation.interval:
        i = evaluation.interval
        lines += [
            "## Price range (80% interval)",
            "",
            f"Each price comes with a range meant to hold 8 sale prices in 10. Cross-validation coverage: "
            f"{i['cv_coverage']:.1%}; on the held-out homes: {i['evaluated_held_out_coverage']:.1%}. Median width "
            f"${i['evaluated_median_width_usd']:,.0f}. Method: {i['method']}.",
            "",
            "| estimated price | held-out homes | sale price inside the range | median width |",
            "|---|---:|---:|---:|",
            *(f"| {b['band']} | {b['homes']:,} | {b['coverage']:.1%} | ${b['median_width_usd']:,.0f} |"
              for b in i["by_band"]),
            "",
        ]
    if evaluation.market:
        market = evaluation.market
        lines += [
            "## The market month",
            "",
            f"This model prices a house at the month the price is asked for. Above, each sale is priced as asked "
            f"on the day it sold; a request today is priced at {market['last_month']}, the last month of the data. "
            "Its market index, how each month's sales sat against the average month after location and house "
            "are accounted for:",
            "",
            "| month | " + " | ".join(market["index_pct"]) + " |",
            "|---|" + "---:|" * len(market["index_pct"]),
            "| index | " + " | ".join(f"{v:+.1f}%" for v in market["index_pct"].values()) + " |",
            "",
            f"Asked for today instead, every sale of the cross-validation would be priced at {market['last_month']}: "
            f"MAPE {market['cv_asked_today']['mape']:.2%} against the sale prices of the whole year (R² "
            f"{market['cv_asked_today']['r2']:.3f}). That is the market's movement during the year, not an error "
            f"of the model: a price for {market['last_month']} is not a price for the month a home sold in.",
            "",
        ]
    lines += [
        "## Pictures",
        "",
        f"![predicted vs actual]({files['predicted_vs_actual']})",
        "",
        f"![error by price band]({files['price_bands']})",
        "",
        f"![error by zipcode]({files['zipcodes']})",
        "",
    ]
    if evaluation.notes:
        lines += ["## Notes", "", *(f"- {note}" for note in evaluation.notes), ""]
    lines += ["Reproduce: `make evaluate` (or `python -m model.evaluate --model " + evaluation.name + "`).", ""]
    return "\n".join(lines)


def index_report(evaluations: list[Evaluation], compare_file: str | None) -> str:
    lines = ["# Model evaluation", "",
             "Generated by `make evaluate` (`python -m model.evaluate`); one folder per model with its pictures.", ""]
    for part, title in (("cv", "5-fold cross-validation of the training part"),
                        ("cv_by_house", "the same, with every sale of one house in one fold"),
                        ("held_out", "held-out homes")):
        lines += [f"## {title}", "", metrics_table({e.name: e.metrics[part] for e in evaluations}), ""]
    lines += ["## Verdicts", ""]
    for e in evaluations:
        interval = ""
        if e.interval:
            interval = (f" 80% range: CV coverage {e.interval['cv_coverage']:.1%}, held-out "
                        f"{e.interval['evaluated_held_out_coverage']:.1%}, median width "
                        f"${e.interval['evaluated_median_width_usd']:,.0f}.")
        lines += [f"- [`{e.name}` {e.version}]({e.name}/report.md): {e.verdict}{interval}", ""]
    if compare_file:
        lines += [f"![error by price band, all models]({compare_file})", ""]
    return "\n".join(lines)


def write_reports(evaluations: list[Evaluation], out: Path) -> Path:
    for evaluation in evaluations:
        folder = out / evaluation.name
        files = draw(evaluation, folder)
        (folder / "report.md").write_text(model_report(evaluation, files))
    compare_file = None
    same_rows = len({tuple(e.held_out.index) for e in evaluations}) == 1
    if len(evaluations) > 1 and same_rows:
        compare_file = "error_by_price_band.png"
        actual = evaluations[0].held_out["price"].to_numpy()
        plots.error_by_price_band(out / compare_file, actual,
                                  {e.name: e.held_out["predicted"].to_numpy() for e in evaluations},
                                  "error by sale price, held-out homes: the models side by side")
    index = out / "README.md"
    index.write_text(index_report(evaluations, compare_file))
    return index


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", action="append", help="evaluate only these models (latest version)")
    parser.add_argument("--folder", type=Path, action="append", help="evaluate this artifact version folder")
    parser.add_argument("--artifacts", type=Path, default=DEFAULT_ARTIFACT_ROOT, help="artifact root")
    parser.add_argument("--out", type=Path, default=DEFAULT_REPORTS, help="report folder")
    args = parser.parse_args(argv)

    folders = list(args.folder or [])
    if not folders:
        names = args.model or sorted(p.parent.name for p in args.artifacts.glob("*/LATEST"))
        folders = [latest_version_folder(args.artifacts, name) for name in names]
    sales = data.load_sales()
    evaluations = []
    for folder in folders:
        evaluation = evaluate(folder, sales)
        evaluations.append(evaluation)
        cv_m, held = evaluation.metrics["cv"], evaluation.metrics["held_out"]
        by_house = evaluation.metrics["cv_by_house"]
        print(f"{evaluation.name} {evaluation.version}: CV MAPE {cv_m['mape']:.2%}, R2 {cv_m['r2']:.3f} "
              f"(by house {by_house['mape']:.2%}, {by_house['r2']:.3f}); held-out MAPE {held['mape']:.2%}, "
              f"R2 {held['r2']:.3f}")
    index = write_reports(evaluations, args.out)
    print(f"report: {index}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
