"""``make bench`` drives the real handler with the real event for each model (timings not asserted:
a shared machine makes them flaky; the figures are read from ``make bench``)."""

from __future__ import annotations

from lambda_fn.api import bench


def test_bench_prices_one_house_and_a_batch_of_1000_through_the_handler_per_model(trained, trained_root,
                                                                                   monkeypatch, capsys):
    monkeypatch.setenv("MODEL_DIR", str(trained_root))

    status = bench.main(["--calls", "30", "--batch-calls", "1", "--cold-runs", "1"])
    out = capsys.readouterr().out

    assert status in (0, 1)  # 1 only if a target was missed
    for name in trained:
        assert f"\n{name} " in out
    assert "1 house p50" in out and "1,000 p50" in out
    assert "cold start, in process" in out


def test_model_choice_goes_in_the_query_string():
    event = bench.with_model({"queryStringParameters": None, "multiValueQueryStringParameters": None}, "gbm")

    assert event["queryStringParameters"] == {"model": "gbm"}
    assert event["multiValueQueryStringParameters"] == {"model": ["gbm"]}
    assert len(bench.thousand_houses()) == 1000
