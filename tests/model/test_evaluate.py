"""The evaluation: metrics on three parts, a verdict in words, pictures and a report."""

from __future__ import annotations

import numpy as np

from lambda_fn.artifacts import read_metadata
from model import evaluate


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
    report = (tmp_path / "basic" / "report.md").read_text()
    assert "under-fits" in report and "| MAPE |" in report
    for picture in ("predicted_vs_actual", "error_by_price_band", "learning_curve", "error_by_zipcode"):
        assert (tmp_path / "basic" / f"{picture}.png").stat().st_size > 10_000
        assert f"({picture}.png)" in report
    assert "basic/report.md" in index.read_text()
