"""HTTP routes of the price service (API Gateway REST API, payload v1), via Powertools.

Routes only: each validates by declaration, calls the prediction core once and returns a typed
model; errors become HTTP answers in the exception handlers at the bottom. The same ``app``
answers Lambda (``lambda_handler``), the local/ECS HTTP server (``lambda_fn.server``) and tests.

Every predict route takes ``?model=NAME`` (a model name or one of its versions; the default
model otherwise; ``GET /v1/models`` lists them) and ``?as_of=YYYY-MM-DD``, the day the price is
asked for (today otherwise): a model that learnt the market's months prices at that month, or at
the data's last month (May 2015) for any later day, and says which in ``market_month``. The
minimal route's fields depend on that choice, so its body is validated against the chosen
model's schema (``minimal_house_schema``) rather than one declared type. Prices carry an
``interval`` when the model has one.
"""

import datetime
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestUnsupportedContentType, RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BeforeValidator, ValidationError

from lambda_fn.error_responses import describe
from lambda_fn.errors import PredictionInputError, UnknownModelError, UnknownQueryParameterError
from lambda_fn.features import HOUSE_COLUMNS
from lambda_fn.json_body import parse_json_body
from lambda_fn.market import iso_day, today
from lambda_fn.media_type import normalise_content_type
from lambda_fn.model_store import get_model_store
from lambda_fn.observability import logger, metrics, tracer
from lambda_fn.predictor import Predictor
from lambda_fn.registry_sync import refresh_models
from lambda_fn.schemas import (
    BatchRequest,
    BatchResponse,
    ErrorDetail,
    ErrorResponse,
    HealthResponse,
    House,
    Interval,
    ModelRef,
    ModelsResponse,
    ModelSummary,
    PredictionResponse,
    PricedHouse,
    minimal_house_schema,
    price_basis,
)

API_VERSION = "1.0.0"
ModelChoice = Annotated[str | None, Query(description="model name or version; the default model if absent")]
AsOf = Annotated[datetime.date | None, BeforeValidator(iso_day), Query(
    description="the day the price is asked for, YYYY-MM-DD (today if absent); days after May 2015, the data's "
                "last month, are priced at May 2015; days before May 2014 are refused")]

app = APIGatewayRestResolver(enable_validation=True, json_body_deserializer=parse_json_body)
app.enable_swagger(path="/v1/swagger", title="Sound Realty price service", version=API_VERSION,
                   description="House price estimates for King County (2014-15 market).")
AS_OF = "as_of"
PRICED = ("model", AS_OF)
QUERY_PARAMETERS = {  # what each route reads; format: the OpenAPI document (/v1/swagger?format=json)
    "/v1/predict": PRICED, "/v1/predict/batch": PRICED, "/v1/predict/minimal": PRICED,
    "/v1/model": ("model",), "/v1/swagger": ("format",),
}


def reject_unknown_query_parameters(app: APIGatewayRestResolver, next_middleware):
    """A misspelled ``?modle=basic`` must not silently price with the default model, and
    ``/v1/health?as_of=...`` must not look as if the day mattered there."""
    known = QUERY_PARAMETERS.get(app.current_event.path, ())
    unknown = sorted(set(app.current_event.query_string_parameters or {}) - set(known))
    if unknown:
        raise UnknownQueryParameterError(unknown[0], known)
    return next_middleware(app)


# Before each route: refuse unknown query parameters, then follow the S3 model registry when one
# is configured (a no-op otherwise).
app.use(middlewares=[reject_unknown_query_parameters, refresh_models])


class MinimalHouseError(Exception):
    """The minimal route's body does not match the chosen model's fields (answered with 422)."""

    def __init__(self, error: ValidationError, allowed_fields: list[str]) -> None:
        super().__init__(str(error))
        self.errors = [{**e, "loc": ("body", *e["loc"])} for e in error.errors()]
        self.allowed_fields = allowed_fields


def _require_json() -> None:
    """Powertools accepts any Content-Type that merely starts with application/json (say
    ``application/jsonx``); this API takes exactly JSON."""
    if not _json_content_type():
        raise RequestUnsupportedContentType("Unsupported content type", errors=[])


def _require_json_object() -> None:
    """For one-house routes. Powertools hands a single-model body the first item of a JSON array,
    so ``[houseA, houseB]`` would be priced as houseA alone; it must be refused instead."""
    _require_json()
    if not isinstance(app.current_event.json_body, dict):
        raise RequestValidationError([{"type": "model_type", "loc": ("body",), "msg": "expected a JSON object"}])


def _model_ref(predictor: Predictor) -> ModelRef:
    return ModelRef(name=predictor.name, version=predictor.version)


def _priced(predictor: Predictor, prices: list[float]) -> list[PricedHouse]:
    if not predictor.has_interval:
        return [PricedHouse(price=price) for price in prices]
    coverage = predictor.interval_coverage
    return [PricedHouse(price=price, interval=Interval(low=low, high=high, coverage=coverage))
            for price, (low, high) in zip(prices, predictor.intervals(prices), strict=True)]


def _one_price(house: dict, predictor: Predictor, as_of: datetime.date | None) -> PredictionResponse:
    asked_on = as_of or today()
    [priced] = _priced(predictor, _price([house], predictor, asked_on=asked_on))
    return PredictionResponse(**priced.model_dump(), **_market(predictor, asked_on), model=_model_ref(predictor))


def _market(predictor: Predictor, asked_on: datetime.date) -> dict[str, str | None]:
    """``market_month`` and ``price_basis``: which month of the data the prices are set at."""
    market_month = predictor.priced_month(asked_on, asked_on_field=AS_OF)
    return {"market_month": market_month, "price_basis": price_basis(market_month)}


def _price(houses: list[dict], predictor: Predictor, *, asked_on: datetime.date, field_prefix: str = "") -> list[float]:
    prices = predictor.predict(houses, field_prefix=field_prefix, asked_on=asked_on, asked_on_field=AS_OF)
    metrics.add_dimension(name="model_version", value=predictor.version)
    metrics.add_metric(name="Predictions", unit=MetricUnit.Count, value=len(prices))
    logger.append_keys(model_name=predictor.name, model_version=predictor.version)
    logger.info("priced houses", extra={"houses": len(prices), "asked_on": asked_on.isoformat()})
    return prices


@app.post("/v1/predict", summary="Price one house (all columns of future_unseen_examples.csv)")
@tracer.capture_method
def predict(house: House, model: ModelChoice = None, as_of: AsOf = None) -> PredictionResponse:
    _require_json_object()
    return _one_price(house.model_dump(), get_model_store().get(model), as_of)


@app.post("/v1/predict/batch", summary="Price 1 to 1,000 houses, answered in input order")
@tracer.capture_method
def predict_batch(batch: BatchRequest, model: ModelChoice = None, as_of: AsOf = None) -> BatchResponse:
    _require_json()
    houses = [house.model_dump() for house in batch.instances]
    predictor = get_model_store().get(model)
    asked_on = as_of or today()
    prices = _price(houses, predictor, asked_on=asked_on, field_prefix="instances")
    return BatchResponse(predictions=_priced(predictor, prices), **_market(predictor, asked_on),
                         model=_model_ref(predictor))


@app.post("/v1/predict/minimal", summary="Price one house from exactly the fields the chosen model uses "
                                         "(GET /v1/models lists them: 8 for basic, 18 for gbm)")
@tracer.capture_method
def predict_minimal(house: Annotated[dict[str, Any], Body(description="the model's required_fields")],
                    model: ModelChoice = None, as_of: AsOf = None) -> PredictionResponse:
    _require_json_object()
    predictor = get_model_store().get(model)
    schema = minimal_house_schema(tuple(predictor.required_fields))
    try:
        validated = schema.model_validate(house)
    except ValidationError as error:
        raise MinimalHouseError(error, predictor.required_fields) from error
    return _one_price(validated.model_dump(), predictor, as_of)


@app.get("/v1/models", summary="The models served: name, version, default, fields, interval, metrics")
def list_models() -> ModelsResponse:
    store = get_model_store()
    return ModelsResponse(default=store.default, models=[
        ModelSummary(name=p.name, version=p.version, description=p.metadata.get("description", ""),
                     default=p.name == store.default, required_fields=p.required_fields,
                     interval_coverage=p.interval_coverage, metrics=p.metadata.get("metrics", {}))
        for p in store.predictors()])


@app.get("/v1/health", summary="Liveness: the default model is loaded and answering")
def health() -> HealthResponse:
    return HealthResponse(status="ok", model=_model_ref(get_model_store().get()))


@app.get("/v1/model", summary="Metadata of the served model: version, metrics, zipcodes, fields")
def model_metadata(model: ModelChoice = None) -> dict:
    predictor = get_model_store().get(model)
    return {**predictor.metadata, "required_fields": predictor.required_fields, "zipcodes": predictor.zipcodes}


def _error(status: int, error: str, message: str, details: list[ErrorDetail] | None = None) -> Response:
    body = ErrorResponse(error=error, message=message, details=details or [])
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body.model_dump())


def _json_content_type() -> bool:
    content_type = app.current_event.headers.get("content-type", "")
    return not content_type or content_type.split(";")[0].strip().lower() == content_types.APPLICATION_JSON


@app.exception_handler(RequestUnsupportedContentType)
def unsupported_media_type(error: Exception) -> Response:
    content_type = app.current_event.headers.get("content-type", "")
    problem = (f"Content-Type '{content_type}' is not accepted: send the body as JSON with "
               "Content-Type: application/json")
    return _error(415, "unsupported_media_type", problem, [ErrorDetail(field="Content-Type", problem=problem)])


@app.exception_handler(RequestValidationError)
def invalid_request(error: RequestValidationError) -> Response:
    # Powertools parses form posts too (curl -d without -H sends one); this API speaks JSON only.
    if not _json_content_type():
        return unsupported_media_type(error)
    batch = app.current_event.path == "/v1/predict/batch"
    details = describe(error.errors(), allowed_fields=HOUSE_COLUMNS, top_level_fields=("instances",) if batch else None,
                       demographic_fields=get_model_store().get().demographic_fields)
    malformed = any(e.get("type") == "json_invalid" for e in error.errors())
    if malformed:
        return _error(400, "malformed_json", details[0].problem, details)
    summary = "; ".join(f"{d.field}: {d.problem}" for d in details[:3])
    return _error(422, "invalid_input", summary, details)


@app.exception_handler(MinimalHouseError)
def invalid_minimal_house(error: MinimalHouseError) -> Response:
    details = describe(error.errors, allowed_fields=error.allowed_fields,
                       demographic_fields=get_model_store().get().demographic_fields)
    summary = "; ".join(f"{d.field}: {d.problem}" for d in details[:3])
    return _error(422, "invalid_input", summary, details)


@app.exception_handler(PredictionInputError)
def unpriceable_input(error: PredictionInputError) -> Response:
    return _error(422, "invalid_input", str(error), [ErrorDetail(field=error.field, problem=error.problem)])


@app.exception_handler(UnicodeDecodeError)
def undecodable_body(error: UnicodeDecodeError) -> Response:
    problem = "request body is not valid JSON: it is not UTF-8 text"
    return _error(400, "malformed_json", problem, [ErrorDetail(field="body", problem=problem)])


@app.exception_handler(UnknownQueryParameterError)
def unknown_query_parameter(error: UnknownQueryParameterError) -> Response:
    return _error(400, "unknown_query_parameter", str(error), [ErrorDetail(field=error.name, problem=str(error))])


@app.exception_handler(UnknownModelError)
def unknown_model(error: UnknownModelError) -> Response:
    return _error(400, "unknown_model", str(error), [ErrorDetail(field="model", problem=str(error))])


@app.not_found
def not_found(error: NotFoundError) -> Response:
    path = app.current_event.path
    return _error(404, "not_found", f"no route {app.current_event.http_method} {path}; see /v1/swagger")


# clear_state: keys appended for one request (model_version, ...) must not label the next one's logs.
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(normalise_content_type(event), context)
