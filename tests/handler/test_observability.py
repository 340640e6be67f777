"""Structured logs carry the API Gateway request id; metrics are EMF with the model version."""

from __future__ import annotations

import io

from lambda_fn.api.asgi import LocalContext
from lambda_fn.api.handler import http_handler, lambda_handler
from lambda_fn.observability import flush_metrics
from tests.helpers import invoke, json_lines, load_event


def test_a_lambda_invocations_metric_document_names_the_request_and_what_priced_it(capsys, log_lines):
    event = load_event("predict")
    context = LocalContext(aws_request_id="invocation-1")

    lambda_handler(event, context)
    [document] = _predictions(capsys.readouterr().out)

    assert document["correlation_id"] == event["requestContext"]["requestId"]
    assert document["function_request_id"] == "invocation-1"
    assert document["path"] == "/v1/predict"
    assert document["model_name"] == "gbm" and document["model_version"]
    assert document["houses"] == 1 and document["asked_on"]
    dimensions = document["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0]
    assert "correlation_id" not in dimensions   # searchable in the logs, not a metric dimension
    assert not [line for line in log_lines() if line.get("message") == "priced houses"]   # one line, not two


def test_the_next_invocations_document_names_only_its_own_request(capsys):
    first, second = load_event("predict"), load_event("predict_batch")
    first["requestContext"]["requestId"], second["requestContext"]["requestId"] = "first", "second"

    lambda_handler(first, LocalContext(aws_request_id="a"))
    lambda_handler(second, LocalContext(aws_request_id="b"))
    lambda_handler(load_event("bad_missing_field"), LocalContext(aws_request_id="c"))   # prices nothing

    documents = _predictions(capsys.readouterr().out)
    assert [(d["correlation_id"], d["function_request_id"], d["houses"]) for d in documents] == [
        ("first", "a", 1), ("second", "b", 5)]


def test_log_predictions_adds_a_log_line_naming_the_request_and_the_model_version(monkeypatch, log_lines):
    monkeypatch.setenv("LOG_PREDICTIONS", "1")
    event = load_event("predict")

    invoke(event)

    [priced] = [line for line in log_lines() if line.get("message") == "priced houses"]
    assert priced["correlation_id"] == event["requestContext"]["requestId"]
    assert priced["model_version"] and priced["model_name"] == "gbm" and priced["houses"] == 1


def test_the_http_servers_gathered_document_names_no_request(capsys, log_lines):
    for request_id in ("first", "second"):
        event = load_event("predict")
        event["requestContext"]["requestId"] = request_id
        http_handler(event, LocalContext(aws_request_id=request_id))

    flush_metrics()

    [document] = _predictions(capsys.readouterr().out)
    assert document["Predictions"] == [1.0, 1.0]
    assert not {"correlation_id", "function_request_id", "houses"} & document.keys()
    assert not [line for line in log_lines() if line.get("message") == "priced houses"]   # LOG_PREDICTIONS is off


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


def test_a_bug_is_a_json_500_naming_the_request_logged_and_counted_never_a_crash(capsys, log_lines, monkeypatch):
    # Given a prediction core that fails in a way nobody planned for
    from lambda_fn.core.predictor import Predictor

    def broken(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(Predictor, "price", broken)
    event = load_event("predict")

    # When a client asks for a price
    status, answer = invoke(event)

    # Then it gets a 500 in the service's error format naming its request, without the internals;
    # the traceback goes to the log, and the ServerErrors metric (the canary's alarm) counts it
    request_id = event["requestContext"]["requestId"]
    assert status == 500
    assert answer["error"] == "internal_error" and request_id in answer["message"]
    assert "secret internals" not in answer["message"]
    [logged] = [line for line in log_lines() if line["message"] == "unhandled error"]
    assert logged["level"] == "ERROR" and "RuntimeError: secret internals" in logged["exception"]
    counted = [line for line in json_lines(capsys.readouterr().out) if "ServerErrors" in line]
    assert [line["ServerErrors"] for line in counted] == [[1.0]]


def test_a_client_error_is_not_counted_as_a_server_error(capsys):
    status, _ = invoke(load_event("bad_missing_field"))

    assert status == 422
    assert not [line for line in json_lines(capsys.readouterr().out) if "ServerErrors" in line]


def _predictions(stdout: str) -> list[dict]:
    return [line for line in json_lines(stdout) if "_aws" in line and "Predictions" in line]


def test_the_http_server_gathers_metrics_and_flushes_them_as_one_document(capsys):
    for _ in range(3):
        http_handler(load_event("predict_batch"), LocalContext(aws_request_id="r"))
    assert _predictions(capsys.readouterr().out) == []   # nothing printed per request

    flush_metrics()

    [document] = _predictions(capsys.readouterr().out)
    assert document["Predictions"] == [5.0, 5.0, 5.0]


def test_gathered_metrics_of_two_model_versions_never_share_a_document(capsys):
    from lambda_fn.observability import count

    count("Predictions", 1, model_version="v1")
    count("Predictions", 2, model_version="v1")
    count("Predictions", 7, model_version="v2")
    flush_metrics()

    documents = _predictions(capsys.readouterr().out)
    assert [(d["model_version"], d["Predictions"]) for d in documents] == [("v1", [1.0, 2.0]), ("v2", [7.0])]


class _Writes(io.RawIOBase):
    """A raw stream that records each write the OS would get."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self.writes.append(bytes(data))
        return len(data)


def test_a_server_worker_hands_each_printed_line_to_the_os_in_one_write():
    from lambda_fn.observability import write_whole_lines

    unbuffered, fixed = _Writes(), _Writes()   # stdout as PYTHONUNBUFFERED=1 makes it, before and after
    before = io.TextIOWrapper(unbuffered, encoding="utf-8", write_through=True)
    after = io.TextIOWrapper(fixed, encoding="utf-8", write_through=True)
    write_whole_lines(after)

    for stream in (before, after):
        print('{"_aws": {}, "Predictions": [1.0]}', file=stream)   # as Powertools prints a metric document

    assert unbuffered.writes == [b'{"_aws": {}, "Predictions": [1.0]}', b"\n"]   # another worker's line fits between
    assert fixed.writes == [b'{"_aws": {}, "Predictions": [1.0]}\n']


def test_a_message_that_looks_like_json_is_logged_as_the_text_it_is(log_lines):
    from lambda_fn.observability import logger

    logger.info('{"price": 1}')

    [line] = [line for line in log_lines() if line["message"] == '{"price": 1}']
    assert line["level"] == "INFO"


def test_server_log_lines_carry_their_own_request_id_and_no_key_of_an_earlier_request(log_lines, monkeypatch):
    from lambda_fn.core.predictor import Predictor
    from lambda_fn.observability import logger

    monkeypatch.setenv("LOG_PREDICTIONS", "1")
    logger.clear_state()   # as in a server worker, where no Lambda invocation has labelled the logger
    first, second = load_event("predict"), load_event("predict")
    first["requestContext"]["requestId"], second["requestContext"]["requestId"] = "first", "second"

    http_handler(first, LocalContext(aws_request_id="first"))
    monkeypatch.setattr(Predictor, "price", lambda *args, **kwargs: 1 / 0)   # the second one fails and is logged
    http_handler(second, LocalContext(aws_request_id="second"))
    lines = log_lines()

    [priced] = [line for line in lines if line.get("message") == "priced houses"]
    assert priced["correlation_id"] == "first" and priced["model_version"] and priced["houses"] == 1
    [failed] = [line for line in lines if line.get("message") == "unhandled error"]
    assert failed["correlation_id"] == "second"
    assert "model_version" not in failed and "function_arn" not in failed   # no made-up Lambda function either
