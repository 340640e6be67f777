"""Fixtures of the container tier (marker ``container``: ``make test`` runs it, ``make unit`` does not).

The image, the synthesized CDK app and SAM's build are made once per session. Every container
runs on the host network, listens on 127.0.0.1 and is removed when its fixture ends, also after a
failure (unique names; ``docker rm -f`` in ``finally``). The figures worth reading in a CI log
(image size, cold start, warm latency) are printed at the end of the run.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from scripts.container import cdk_templates, image, sam_local
from scripts.container.toolchain import LABEL, Toolchain, remove_container, run, toolchain
from tests.helpers import EVENTS_DIR

FIGURES: dict[str, str] = {}


def pytest_terminal_summary(terminalreporter) -> None:
    if FIGURES:
        terminalreporter.section("container tier figures")
        for name, value in FIGURES.items():
            terminalreporter.write_line(f"{name}: {value}")


@pytest.fixture(scope="session")
def tools() -> Toolchain:
    return toolchain()


def labelled_containers() -> list[str]:
    return run(["docker", "ps", "-aq", "--filter", f"label={LABEL}"], check=False).stdout.split()


@pytest.fixture(scope="session", autouse=True)
def no_stray_containers(tools: Toolchain) -> Iterator[None]:
    """Every fixture removes its own container; this fails the session if one was left behind."""
    yield
    strays = labelled_containers()
    for container in strays:
        remove_container(container)
    assert strays == [], f"containers left behind (now removed): {strays}"


@pytest.fixture(scope="session")
def built_image(tools: Toolchain) -> image.ImageInfo:
    info = image.build(quiet=True)
    FIGURES["image"] = (f"{info.tag} {info.platform} {info.size_mb:.1f} MB on {info.base_image} "
                        f"({info.builder} build, {info.build_seconds:.1f} s)")
    return info


@pytest.fixture(scope="session")
def synthesized(tools: Toolchain) -> Path:
    """``cdk synth --no-staging`` through the pinned CDK CLI, the image on the toolchain's base."""
    return cdk_templates.synth(base_image=tools.base_image)


@pytest.fixture(scope="session")
def sam_build(built_image: image.ImageInfo, synthesized: Path) -> sam_local.SamBuild:
    # After `built_image`, so SAM's build of the same Dockerfile and context reuses its layers.
    return sam_local.build(synthesize=False)


@pytest.fixture
def function_environment(sam_build: sam_local.SamBuild, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The in-process handler runs with the function's environment from the template, as SAM's container does."""
    for name, value in sam_build.environment.items():
        monkeypatch.setenv(name, value)
    return sam_build.environment


def event_files() -> list[Path]:
    return sorted(EVENTS_DIR.glob("*.json"))


def comparable(response: dict[str, Any]) -> dict[str, Any]:
    """A Lambda proxy response with its JSON body parsed and prices to the cent.

    Nothing else is relaxed: these bodies carry no request id, timestamp or host name (those are
    in the logs only), so every other field must be equal, the model version included.
    """
    return {**response, "body": _cents(json.loads(response["body"]))}


def _cents(value: Any, key: str = "") -> Any:
    if isinstance(value, dict):
        return {k: _cents(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_cents(v, key) for v in value]
    if key.startswith("price") and isinstance(value, float):
        return round(value, 2)
    return value


@pytest.fixture(scope="session")
def sam_invocations(sam_build: sam_local.SamBuild) -> Iterator[dict[str, sam_local.Invocation]]:
    invocations = sam_local.invoke_all(sam_build, event_files())
    seconds = sorted(i.seconds for i in invocations)
    FIGURES["sam local invoke"] = (f"{len(invocations)} events, {seconds[len(seconds) // 2]:.1f} s median per invoke "
                                   f"(SAM start + fresh container + cold start)")
    yield {invocation.event.name: invocation for invocation in invocations}
