"""Service settings, read from environment variables once, when first needed (never at import)."""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

from pydantic import BaseModel

# Beside lambda_fn/ both in the repository and in the image (/var/task/model/artifacts).
DEFAULT_MODEL_DIR = Path(__file__).resolve().parent.parent / "model" / "artifacts"


class Settings(BaseModel):
    model_dir: Path = DEFAULT_MODEL_DIR
    default_model: str = "basic"

    @classmethod
    def from_env(cls) -> Settings:
        values = {"model_dir": os.environ.get("MODEL_DIR"), "default_model": os.environ.get("DEFAULT_MODEL")}
        return cls(**{key: value for key, value in values.items() if value})


@cache
def get_settings() -> Settings:
    return Settings.from_env()
