"""The Powertools logger, tracer and metrics shared by every module (configured by environment:
POWERTOOLS_SERVICE_NAME, POWERTOOLS_METRICS_NAMESPACE, POWERTOOLS_LOG_LEVEL, ...)."""

import warnings

from aws_lambda_powertools import Logger, Metrics, Tracer

# GET routes price nothing, so they publish no application metric; that is expected, not news.
warnings.filterwarnings("ignore", message="No application metrics to publish")

SERVICE = "price-service"

logger = Logger(service=SERVICE)
tracer = Tracer(service=SERVICE)
metrics = Metrics(namespace="SoundRealty", service=SERVICE)
