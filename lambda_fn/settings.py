"""Service settings from environment variables, read once when first needed (never at import).

    MODEL_DIR              the models baked into the image (default: model/artifacts beside lambda_fn/)
    DEFAULT_MODEL          the model answering requests that name none (default: gbm)
    MODEL_REGISTRY_BUCKET  the S3 model registry; unset: serve only the image's models
    MODEL_POINTER_PREFIX   SSM parameter path of the "active version" pointers (<prefix>/<model name>)
    MODEL_SIGNING_KEY_ARN  the KMS key whose signature a registry version must carry; unset: every
                           registry version is refused (the image's models serve)
    MODEL_REFRESH_SECONDS  how long a pointer read is trusted, and the pause after a failed swap
                           (default 30; 0 reads the pointer on every request, for tests)
    MODEL_DOWNLOAD_DIR     where registry versions are downloaded before loading (default /tmp/...)
    LOG_PREDICTIONS        "1": a ``priced houses`` log line per priced request, naming the model
                           version; "0" (default): none. In Lambda the invocation's metric document
                           names them anyway (``observability.describe_request``)

An empty variable counts as unset; a malformed one fails the cold start with pydantic's message.
"""

from __future__ import annotations

import tempfile
from functools import cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

# Beside lambda_fn/ both in the repository and in the image (/var/task/model/artifacts).
DEFAULT_MODEL_DIR = Path(__file__).resolve().parent.parent / "model" / "artifacts"
DEFAULT_POINTER_PREFIX = "/price-service/models"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_ignore_empty=True, extra="ignore", populate_by_name=True,
                                      protected_namespaces=())

    model_dir: Path = DEFAULT_MODEL_DIR
    default_model: str = "gbm"
    registry_bucket: str | None = Field(None, validation_alias="MODEL_REGISTRY_BUCKET")
    pointer_prefix: str = Field(DEFAULT_POINTER_PREFIX, validation_alias="MODEL_POINTER_PREFIX")
    signing_key_arn: str | None = Field(None, validation_alias="MODEL_SIGNING_KEY_ARN")
    refresh_seconds: int = Field(30, ge=0, le=3600, validation_alias="MODEL_REFRESH_SECONDS")
    # Lambda's only writable folder is /tmp; ECS tasks run as a non-root user who can write there too.
    download_dir: Path = Field(Path(tempfile.gettempdir()) / "model-registry", validation_alias="MODEL_DOWNLOAD_DIR")
    log_predictions: bool = Field(False, validation_alias="LOG_PREDICTIONS")

    @property
    def registry_enabled(self) -> bool:
        return bool(self.registry_bucket)


@cache
def get_settings() -> Settings:
    return Settings()
