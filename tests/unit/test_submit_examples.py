"""The demonstration table says when a price came with a warning, on both the one-by-one and batch paths."""

from __future__ import annotations

import importlib.util
import re

from tests.helpers import PROJECT_ROOT, invoke, load_event

spec = importlib.util.spec_from_file_location("submit_examples", PROJECT_ROOT / "scripts" / "submit_examples.py")
submit_examples = importlib.util.module_from_spec(spec)
spec.loader.exec_module(submit_examples)

HOUSE = {"zipcode": "98118", "bedrooms": 4, "bathrooms": 1.0, "sqft_living": 1680, "sqft_lot": 5043, "yr_built": 1911}
WARNING = {"field": "instances[1].lat", "problem": "lat/long (47.3, -122.0) is outside zipcode 98118"}


def test_a_batch_answers_warnings_are_printed_under_the_house_they_name(monkeypatch, capsys):
    answer = {"predictions": [{"price": 300000.0, "interval": None}, {"price": 250000.0, "interval": None}],
              "model": {"name": "gbm", "version": "v1"}, "price_basis": "a 2014-15 price.", "warnings": [WARNING]}
    monkeypatch.setattr(submit_examples, "post", lambda *args: (200, answer))
    args = submit_examples.argparse.Namespace(url="http://127.0.0.1:1", model=None, batch=True, api_key=None,
                                              timeout=1.0)

    results = submit_examples.price_all([HOUSE, HOUSE], args)
    submit_examples.print_table(args.url, [HOUSE, HOUSE], results)
    lines = capsys.readouterr().out.splitlines()

    assert [r["warnings"] for r in results] == [[], [WARNING]]
    second = next(i for i, line in enumerate(lines) if line.startswith("  2  "))
    assert lines[second + 1].strip() == f"warning: {WARNING['problem']}"
    assert not any("warning" in line for line in lines[:second])


def test_explain_prints_each_houses_top_three_contributions_and_its_nearest_comparable(monkeypatch, capsys):
    status, answer = invoke(load_event("predict_explain"))
    monkeypatch.setattr(submit_examples, "post", lambda *args: (status, answer))
    args = submit_examples.argparse.Namespace(url="http://127.0.0.1:1", model=None, batch=False, explain=True,
                                              api_key=None, timeout=1.0)

    results = submit_examples.price_all([HOUSE], args)
    submit_examples.print_table(args.url, [HOUSE], results)
    out = capsys.readouterr().out

    top = sorted(answer["contributions"], key=lambda c: abs(c["usd"]), reverse=True)[:3]
    moved = next(line for line in out.splitlines() if "moved most:" in line)
    assert re.findall(r"([a-z][a-z ]*?) [+-]\$", moved) == [c["group"] for c in top]
    nearest = min(answer["comparables"], key=lambda c: c["distance_km"])
    assert f"nearest comparable: {nearest['distance_km']:.2f} km away in {nearest['zipcode']}" in out
    assert answer["price_basis"] in out
