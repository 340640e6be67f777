"""Structured logs carry the API Gateway request id; metrics are EMF with the model version."""

from __future__ import annotations

from tests.helpers import invoke, json_lines, load_event


def test_logs_carry_the_request_id_and_the_model_version(log_lines):
    event = load_event("predict")

    invoke(event)
    lines = log_lines()

    priced = [line for line in lines if line.get("message") == "priced houses"]
    assert priced, lines
    assert priced[0]["correlation_id"] == event["requestContext"]["requestId"]
    assert priced[0]["model_version"]
    assert priced[0]["houses"] == 1


def test_predictions_are_counted_per_model_version(capsys):
    invoke(load_event("predict_batch"))
    lines = json_lines(capsys.readouterr().out)

    emf = [line for line in lines if "_aws" in line and "Predictions" in line]
    assert emf, lines
    assert emf[0]["Predictions"] == [5.0] or emf[0]["Predictions"] == 5.0
    directive = emf[0]["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == "SoundRealty"
    assert "model_version" in directive["Dimensions"][0]
    assert emf[0]["model_version"]
