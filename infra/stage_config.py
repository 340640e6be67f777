"""The committed settings of each stage: ``config/<stage>.json``, one flat JSON object.

Its keys are the context keys of ``infra.settings`` (camelCase, as ``-c`` takes them); values are
JSON values (``null`` keeps the built-in default). The file's name is the stage, so it holds no
``stage`` key. A stage without a file is refused: a typo in ``-c stage=`` must not deploy a new
set of stacks with the defaults.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

CONFIG_DIR = Path(__file__).resolve().parents[1] / "config"
# Part of stack names, of the API Gateway stage and of a file name: letters, digits, hyphens.
STAGE_PATTERN = re.compile(r"[a-z][a-z0-9-]{0,19}")
STAGE_RULE = "stage must be 1-20 lowercase letters, digits or hyphens, starting with a letter"


def path(stage: str, config_dir: Path = CONFIG_DIR) -> Path:
    return config_dir / f"{stage}.json"


def stages(config_dir: Path = CONFIG_DIR) -> list[str]:
    return sorted(file.stem for file in config_dir.glob("*.json"))


def read(stage: str, config_dir: Path = CONFIG_DIR) -> dict[str, Any]:
    """The stage's settings as written (not validated); ValueError when the file is missing or not an object."""
    if not STAGE_PATTERN.fullmatch(stage):
        raise ValueError(f"{STAGE_RULE}, got {stage!r}")
    file = path(stage, config_dir)
    if not file.is_file():
        raise ValueError(f"no settings for stage {stage!r}: create config/{stage}.json (copy config/dev.json); "
                         f"stages with a file: {', '.join(stages(config_dir)) or 'none'}")
    try:
        values = json.loads(file.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"config/{stage}.json is not valid JSON: {error}") from error
    if not isinstance(values, dict):
        raise ValueError(f"config/{stage}.json must hold one JSON object of settings")
    return values
