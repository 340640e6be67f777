"""The evaluation: metrics on three parts, a verdict in words, pictures and a report."""

from __future__ import annotations

import numpy as np

from lambda_fn.registry.artifacts import load_predictor, read_metadata
from model import cv, evaluate


def _metrics(train_mape: float, held_out_mape: float) -> dict:
    return {"train": {"mape": train_mape}, "held_out": {"mape": held_out_mape}}


def test_verdict_names_over_fitting_when_seen_homes_are_priced_much_better():
    curve = np.array([[0.20] * 5, [0.15] * 5, [0.12] * 5, [0.118] * 5])

    verdict = evaluate.fit_verdict("m", _metrics(0.05, 0.12), [1000, 2500, 5000, 10000], curve)

    assert "**over-fits**" in verdict and "under-fits" not in verdict
    assert "flattened" in verdict


def test_verdict_names_under_fitting_when_even_seen_homes_are_priced_badly():
    curve = np.array([[0.25] * 5, [0.22] * 5, [0.20] * 5, [0.18] * 5])

    verdict = evaluate.fit_verdict("m", _metrics(0.15, 0.17), [1000, 2500, 5000, 10000], curve)

    assert "**under-fits**" in verdict and "not over-fit much" in verdict
    assert "still falling" in verdict and "more sales would still help" in verdict


def test_basic_model_report_with_pictures(trained, sales, tmp_path):
    result = evaluate.evaluate(trained["basic"].folder, sales)
    index = evaluate.write_reports([result], tmp_path)

    recorded = read_metadata(trained["basic"].folder)["metrics"]
    for part in ("train", "held_out", "cv"):
        assert np.isclose(result.metrics[part]["mape"], recorded[part]["mape"], rtol=1e-6), part
    assert 0.17 < result.metrics["cv_by_house"]["mape"] < 0.19   # resales barely help a 5-neighbour model
    report = (tmp_path / "basic" / "report.md").read_text()
    assert "under-fits" in report and "| MAPE |" in report
    for picture in ("predicted_vs_actual", "error_by_price_band", "learning_curve", "error_by_zipcode"):
        assert (tmp_path / "basic" / f"{picture}.png").stat().st_size > 10_000
        assert f"({picture}.png)" in report
    assert "basic/report.md" in index.read_text()


def test_cv_also_prices_every_house_as_asked_today_out_of_fold():
    from sklearn.linear_model import LinearRegression

    rng = np.random.default_rng(0)
    x = rng.uniform(0, 12, size=(400, 2))
    y = 100_000 * (1 + x[:, 0]) + 5_000 * x[:, 1] + rng.normal(0, 20_000, 400)
    asked_today = x.copy()
    asked_today[:, 1] = 12  # the month column, as a request today sets it

    _, _, _, on_sale_day, on_last_month = evaluate.learning_curve_and_cv(LinearRegression(), x, y, n_jobs=1,
                                                                         x_asked_today=asked_today)

    in_sample = LinearRegression().fit(x, y)
    assert not np.allclose(on_sale_day, in_sample.predict(x), rtol=0, atol=1.0)   # out of fold, not in sample
    assert np.allclose(on_sale_day, in_sample.predict(x), rtol=0.02)              # same houses, same order
    assert np.allclose(on_last_month - on_sale_day, in_sample.coef_[1] * (12 - x[:, 1]), rtol=0.05, atol=500)
    assert evaluate.learning_curve_and_cv(LinearRegression(), x, y, n_jobs=1)[-1] is None


def test_report_of_a_model_priced_by_month_shows_its_index_and_the_price_asked_today():
    metrics = {"mae": 1.0, "rmse": 1.0, "r2": 0.9, "mape": 0.11, "median_ape": 0.07, "within_10pct": 0.6,
               "within_20pct": 0.85}
    evaluation = evaluate.Evaluation(
        name="gbm", version="v", description="d",
        metrics={"train": metrics, "held_out": metrics, "cv": metrics, "cv_by_house": metrics},
        held_out=None, learning_sizes=[], learning_train_mape=np.empty(0), learning_validation_mape=np.empty(0),
        verdict="v", market={"first_month": "2014-05", "last_month": "2015-05",
                             "index_pct": {"2014-05": -2.4, "2015-05": 8.1},
                             "cv_asked_today": {**metrics, "mape": 0.1406, "r2": 0.91}})

    report = evaluate.model_report(evaluation, {name: f"{name}.png" for name in
                                                ("learning_curve", "predicted_vs_actual", "price_bands", "zipcodes")})

    assert "| index | -2.4% | +8.1% |" in report
    assert "priced at 2015-05: MAPE 14.06%" in report


def test_folds_by_house_keep_every_sale_of_a_house_together(sales):
    ids = sales["id"].to_numpy()

    split = cv.folds_by_house(ids)

    assert len(split) == 5
    assert sorted(np.concatenate([check for _, check in split]).tolist()) == list(range(len(ids)))
    for fit_rows, check_rows in split:
        assert not set(ids[fit_rows]) & set(ids[check_rows])
    resold = sales["id"].duplicated(keep=False).to_numpy()
    assert resold.sum() >= 200   # the reason for it: houses sold twice in the year


def test_a_gbm_version_is_refitted_with_the_local_regressors_it_was_trained_with(trained):
    predictor = load_predictor(trained["gbm"].folder)
    assert evaluate.refittable(predictor).regressors == ("condition", "view")

    del predictor.metadata["hyperparameters"]["regressors"]   # as in versions saved before regressors

    assert evaluate.refittable(predictor).regressors == ()
