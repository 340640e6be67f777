"""HTTP routes of the price service (API Gateway REST API, payload v1), via Powertools.

Routes only: each validates by declaration, resolves the day asked once, calls the prediction
core once and returns a typed model; errors become HTTP answers in ``lambda_fn.api.errors``.
The same ``app`` answers Lambda (``lambda_handler``), the local/ECS HTTP server
(``lambda_fn.api.server``) and tests.

Every predict route takes ``?model=NAME`` (a model name or one of its versions; the default
model otherwise; ``GET /v1/models`` lists them) and ``?as_of=YYYY-MM-DD``, the day the price is
asked for (today in UTC otherwise). The query parameters a route reads are declared once, in its
signature: the OpenAPI document, the refusal of unknown parameters (``lambda_fn.api.routes``) and
API Gateway's request validation (``infra``) all read them from there.
"""

import datetime
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BeforeValidator, ValidationError

from lambda_fn.api import errors, page, routes
from lambda_fn.api.json_body import dump_json, parse_json_body
from lambda_fn.api.media_type import normalise_content_type
from lambda_fn.api.schemas import (
    BatchRequest,
    BatchResponse,
    ErrorResponse,
    ExplanationResponse,
    HealthResponse,
    House,
    ModelRef,
    ModelsResponse,
    ModelSummary,
    PredictionResponse,
    explained,
    iso_day,
    minimal_house_schema,
    priced_houses,
)
from lambda_fn.core.market import today
from lambda_fn.core.predictor import Predictor, Pricing
from lambda_fn.observability import (
    count,
    describe_request,
    logger,
    metrics_per_invocation,
    one_request_per_document,
    traced,
    traced_handler,
)
from lambda_fn.registry.serving import get_model_store
from lambda_fn.settings import get_settings

API_VERSION = "1.0.0"
ModelChoice = Annotated[str | None, Query(description="model name or version; the default model if absent")]
AsOf = Annotated[datetime.date | None, BeforeValidator(iso_day), Query(
    description="the day the price is asked for, YYYY-MM-DD (today if absent); days after May 2015, the data's "
                "last month, are priced at May 2015; days before May 2014 are refused")]

# The error answers a route can give (lambda_fn.api.errors, and the body limits of lambda_fn.api.asgi),
# declared so the OpenAPI document lists them with their one body format instead of Powertools'
# default 422 body, which this API never sends.
ERROR_ANSWERS = {
    400: "Malformed JSON, an unknown query parameter or an unknown model",
    408: "The body took longer than 10 seconds to arrive (local and ECS server)",
    413: "The body is over 10 MB",
    415: "The body is not sent as application/json",
    422: "A field or query parameter is invalid; details name each one",
}


def _answers(*errors: int) -> dict[int, OpenAPIResponse]:
    """A route's documented answers: 200 with its return type (Powertools fills it in), and ``errors``."""
    return {200: {"description": "Successful Response"},
            **{status: {"description": ERROR_ANSWERS[status], "content": {"application/json": {"model": ErrorResponse}}}
               for status in errors}}


QUERY_ONLY = _answers(400, 422)
WITH_BODY = _answers(400, 408, 413, 415, 422)

app = APIGatewayRestResolver(enable_validation=True, json_body_deserializer=parse_json_body, serializer=dump_json)
app.enable_swagger(path=routes.SWAGGER_PATH, title="Sound Realty price service", version=API_VERSION,
                   description="House price estimates for King County (2014-15 market).")
errors.install(app)
page.install(app)


def follow_model_registry(app: APIGatewayRestResolver, next_middleware):
    """Before each route: let the store swap in newly promoted versions (a no-op without a registry,
    or where a background thread does it), within the invocation's remaining time; after it, the
    security headers every answer carries (error answers set them themselves)."""
    remaining_ms = getattr(app.lambda_context, "get_remaining_time_in_millis", None)
    get_model_store().refresh(seconds_left=remaining_ms() / 1000 if remaining_ms else None)
    response = next_middleware(app)
    response.headers.update(errors.SECURITY_HEADERS)
    return response


app.use(middlewares=[routes.refuse_unknown_query_parameters, follow_model_registry])


def _model_ref(predictor: Predictor) -> ModelRef:
    return ModelRef(name=predictor.name, version=predictor.version)


def _price(houses: list[dict], predictor: Predictor, as_of: datetime.date | None) -> Pricing:
    asked_on = as_of or today()
    pricing = predictor.price(houses, asked_on)
    _record(pricing, predictor, asked_on, "priced houses")
    return pricing


def _record(pricing: Pricing, predictor: Predictor, asked_on: datetime.date, message: str) -> None:
    """Count the prices per model version; in Lambda, name the request and what priced it on the
    invocation's metric document (decision 024); a log line too where ``LOG_PREDICTIONS`` asks."""
    count("Predictions", len(pricing.prices), model_version=predictor.version)
    in_document, in_line = one_request_per_document(), get_settings().log_predictions
    if not (in_document or in_line):   # the HTTP server's default: the count is the whole record
        return
    facts = {"model_name": predictor.name, "houses": len(pricing.prices), "asked_on": asked_on.isoformat()}
    if in_document:
        describe_request(correlation_id=logger.get_correlation_id(), path=app.current_event.path,
                         function_request_id=getattr(app.lambda_context, "aws_request_id", None), **facts)
    if in_line:
        # On this line only, not appended to the logger: no key of one request can label the next's lines.
        logger.info(message, extra={**facts, "model_version": predictor.version})


def _warnings(pricing: Pricing) -> list[dict[str, str]]:
    path = app.current_event.path
    return [{"field": errors.client_field(w.field, w.row, path), "problem": w.problem} for w in pricing.warnings]


def _one_price(house: dict, predictor: Predictor, as_of: datetime.date | None) -> PredictionResponse:
    pricing = _price([house], predictor, as_of)
    [priced] = priced_houses(pricing, predictor.interval_coverage)
    return PredictionResponse(**priced, market_month=pricing.market_month, model=_model_ref(predictor),
                              warnings=_warnings(pricing))


@app.post("/v1/predict", summary="Price one house (all columns of future_unseen_examples.csv)",
          responses=WITH_BODY)
@traced
def predict(house: House, model: ModelChoice = None, as_of: AsOf = None) -> PredictionResponse:
    errors.require_json_object(app.current_event)
    return _one_price(vars(house), get_model_store().get(model), as_of)


@app.post("/v1/predict/batch", summary="Price 1 to 1,000 houses, answered in input order", responses=WITH_BODY)
@traced
def predict_batch(batch: BatchRequest, model: ModelChoice = None, as_of: AsOf = None) -> BatchResponse:
    errors.require_json_object(app.current_event)
    predictor = get_model_store().get(model)
    # One call for every house; each house's validated fields read in place (``vars``), not copied.
    pricing = _price([vars(house) for house in batch.instances], predictor, as_of)
    return BatchResponse(predictions=priced_houses(pricing, predictor.interval_coverage),
                         market_month=pricing.market_month, model=_model_ref(predictor), warnings=_warnings(pricing))


@app.post("/v1/predict/explain", summary="Price one house and explain it: what moved the price, in dollars, and "
                                         "the 5 most comparable training sales (models that explain: GET /v1/models)",
          responses=WITH_BODY)
@traced
def predict_explain(house: House, model: ModelChoice = None, as_of: AsOf = None) -> ExplanationResponse:
    errors.require_json_object(app.current_event)
    predictor = get_model_store().get(model)
    asked_on = as_of or today()
    pricing, [explanation] = predictor.explain([vars(house)], asked_on)
    _record(pricing, predictor, asked_on, "explained a price")
    return ExplanationResponse(**explained(pricing, explanation, predictor.interval_coverage),
                               market_month=pricing.market_month, model=_model_ref(predictor),
                               warnings=_warnings(pricing))


@app.post("/v1/predict/minimal", summary="Price one house from exactly the fields the chosen model uses "
                                         "(GET /v1/models lists them: 8 for basic, 18 for gbm)",
          responses=WITH_BODY)
@traced
def predict_minimal(house: Annotated[dict[str, Any], Body(description="the model's required_fields")],
                    model: ModelChoice = None, as_of: AsOf = None) -> PredictionResponse:
    errors.require_json_object(app.current_event)
    predictor = get_model_store().get(model)
    schema = minimal_house_schema(tuple(predictor.required_fields))
    try:
        validated = schema.model_validate(house)
    except ValidationError as error:
        raise errors.MinimalHouseError(error, predictor.required_fields) from error
    return _one_price(vars(validated), predictor, as_of)


@app.get("/v1/models", summary="The models served: name, version, default, fields, interval, metrics",
         responses=QUERY_ONLY)
def list_models() -> ModelsResponse:
    store = get_model_store()
    return ModelsResponse(default=store.default, models=[
        ModelSummary.from_metadata(metadata, default=metadata["name"] == store.default)
        for metadata in store.metadata()])


@app.get("/v1/health", summary="Liveness: the default model is loaded and answering", responses=QUERY_ONLY)
def health() -> HealthResponse:
    return HealthResponse(status="ok", model=_model_ref(get_model_store().get()))


@app.get("/v1/model", summary="Metadata of the served model: version, metrics, zipcodes, fields",
         responses=QUERY_ONLY)
def model_metadata(model: ModelChoice = None) -> dict:
    predictor = get_model_store().get(model)
    return {**predictor.metadata, "required_fields": predictor.required_fields, "zipcodes": predictor.zipcodes}


# clear_state: keys appended in one invocation must not label the next one's logs.
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@traced_handler
@metrics_per_invocation
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    """Lambda's entry point: metrics are flushed after every invocation, as Lambda needs."""
    return app.resolve(normalise_content_type(event), context)


def http_handler(event: dict, context: LambdaContext) -> dict:
    """The HTTP server's entry point (``lambda_fn.api.asgi``): the same app and log lines, with the
    request id as ``correlation_id`` but no Lambda context to describe (``inject_lambda_context``
    would log a made-up function for 60 us a request); metrics gather across requests and the
    server flushes them (``observability.flush_metrics``)."""
    logger.set_correlation_id(event["requestContext"]["requestId"])
    return app.resolve(normalise_content_type(event), context)


