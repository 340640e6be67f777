"""The Powertools logger, tracer and metrics shared by every module (configured by environment:
POWERTOOLS_SERVICE_NAME, POWERTOOLS_METRICS_NAMESPACE, POWERTOOLS_LOG_LEVEL, ...)."""

import functools
import io
import sys
import warnings
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, TypeVar

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

T = TypeVar("T")

# GET routes price nothing, so they publish no application metric; that is expected, not news.
warnings.filterwarnings("ignore", message="No application metrics to publish")

SERVICE = "price-service"


def _message_unchanged(message: str) -> str:
    # Powertools tries to decode every message as JSON (a JSONDecodeError a line, about 10 us of a
    # 60 us line); this service's messages are plain text, and a message that merely looks like JSON
    # (say, text quoted from a request) must be logged as the text it is.
    return message


logger = Logger(service=SERVICE, json_deserializer=_message_unchanged)
tracer = Tracer(service=SERVICE)
metrics = Metrics(namespace="SoundRealty", service=SERVICE)


def traced(function: Callable[..., T]) -> Callable[..., T]:
    """A route as a trace subsegment, without its answer (that costs time, and is the client's).
    Where tracing is off (locally, on ECS: no X-Ray daemon) no wrapper at all: the disabled
    tracer would still build subsegment objects, for nobody."""
    return function if tracer.disabled else tracer.capture_method(capture_response=False)(function)


def traced_handler(function: Callable[..., T]) -> Callable[..., T]:
    """``tracer.capture_lambda_handler`` where tracing is on; the function itself elsewhere."""
    return function if tracer.disabled else tracer.capture_lambda_handler(function)


def count(name: str, value: float, *, model_version: str) -> None:
    """Add to metric ``name`` labelled with ``model_version``. Metrics of two versions never share
    one EMF document (its dimensions label every value in it): a document holding another version
    is flushed first. Lambda flushes after each invocation; the HTTP server every minute."""
    labelled = metrics.dimension_set.get("model_version")
    if labelled not in (None, model_version):
        metrics.flush_metrics()
    if labelled != model_version:   # already labelled so since the last flush: nothing to add
        metrics.add_dimension(name="model_version", value=model_version)
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


# True while a Lambda invocation runs: its metric document is printed when it ends, and holds only its own.
_document_of_one_invocation: ContextVar[bool] = ContextVar("document_of_one_invocation", default=False)


def metrics_per_invocation(handler: Callable[[Any, Any], T]) -> Callable[[Any, Any], T]:
    """``metrics.log_metrics`` (with the cold-start metric) for a Lambda handler: the metrics an
    invocation gathers, and what ``describe_request`` adds, are printed as one EMF document when it ends."""
    logged = metrics.log_metrics(capture_cold_start_metric=True)(handler)

    @functools.wraps(handler)
    def invoke(event: Any, context: Any) -> T:
        token = _document_of_one_invocation.set(True)
        try:
            return logged(event, context)
        finally:
            _document_of_one_invocation.reset(token)
    return invoke


def one_request_per_document() -> bool:
    """Whether the metric document being gathered is this request's alone (inside
    ``metrics_per_invocation``). The HTTP server's documents gather a minute of requests."""
    return _document_of_one_invocation.get()


def describe_request(**facts: Any) -> None:
    """Facts about the request being answered (its ids, the model, the houses) as metadata of its
    metric document: searchable in the logs beside its metrics, never a dimension, and no log line
    of their own. Only where ``one_request_per_document()``: no one request's facts may label a
    document that gathers many, and there nothing is added."""
    if one_request_per_document():
        for key, value in facts.items():
            metrics.add_metadata(key=key, value=value)


def flush_metrics() -> None:
    """Print the metrics gathered so far as one EMF document (none if there are none)."""
    if metrics.metric_set:
        metrics.flush_metrics()


def write_whole_lines(stream: io.TextIOBase | None = None) -> None:
    """Make ``stream`` (stdout) hand each line to the OS in one write, up to its 8 KB buffer.

    Where several server workers share one stdout (uvicorn's workers; the ECS task's log stream),
    Powertools prints a metric document as its text and then its newline: two writes, between which
    another worker's log line can fall, gluing two JSON records into one unreadable line. Lambda
    runs one process per environment and needs none of this."""
    stream = sys.stdout if stream is None else stream
    if isinstance(stream, io.TextIOWrapper):
        stream.reconfigure(line_buffering=True, write_through=False)
