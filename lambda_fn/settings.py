"""Service settings, read from environment variables once, when first needed (never at import).

    MODEL_DIR              the models baked into the image (default: model/artifacts beside lambda_fn/)
    DEFAULT_MODEL          the model answering requests that name none (default: gbm)
    MODEL_REGISTRY_BUCKET  the S3 model registry; unset: serve only the image's models
    MODEL_POINTER_PREFIX   SSM parameter path of the "active version" pointers (<prefix>/<model name>)
    MODEL_REFRESH_SECONDS  how long a pointer read is trusted, and the pause after a failed swap
                           (default 30: every environment follows a promotion within ~30 s; 0 reads
                           the pointer on every request, for tests)
    MODEL_DOWNLOAD_DIR     where registry versions are downloaded before loading (default /tmp/...)
"""

from __future__ import annotations

import os
import tempfile
from functools import cache
from pathlib import Path

from pydantic import BaseModel, Field

# Beside lambda_fn/ both in the repository and in the image (/var/task/model/artifacts).
DEFAULT_MODEL_DIR = Path(__file__).resolve().parent.parent / "model" / "artifacts"
DEFAULT_POINTER_PREFIX = "/price-service/models"

ENV_NAMES = {
    "model_dir": "MODEL_DIR",
    "default_model": "DEFAULT_MODEL",
    "registry_bucket": "MODEL_REGISTRY_BUCKET",
    "pointer_prefix": "MODEL_POINTER_PREFIX",
    "refresh_seconds": "MODEL_REFRESH_SECONDS",
    "download_dir": "MODEL_DOWNLOAD_DIR",
}


class Settings(BaseModel):
    model_dir: Path = DEFAULT_MODEL_DIR
    default_model: str = "gbm"
    registry_bucket: str | None = None
    pointer_prefix: str = DEFAULT_POINTER_PREFIX
    refresh_seconds: int = Field(30, ge=0, le=3600)
    # Lambda's only writable folder is /tmp; ECS tasks run as a non-root user who can write there too.
    download_dir: Path = Path(tempfile.gettempdir()) / "model-registry"

    @property
    def registry_enabled(self) -> bool:
        return bool(self.registry_bucket)

    @classmethod
    def from_env(cls) -> Settings:
        values = {field: os.environ.get(env) for field, env in ENV_NAMES.items()}
        return cls(**{key: value for key, value in values.items() if value})


@cache
def get_settings() -> Settings:
    return Settings.from_env()
