"""Build the service image from the repository's Dockerfile (``make image``).

    python -m scripts.container.image [--tag NAME:TAG]

One platform (linux/amd64) and a single image manifest, as Lambda requires: BuildKit (buildx)
runs with ``--provenance=false --sbom=false``; without buildx the classic builder is used, which
never writes attestations. The base image and wheels come from ``toolchain`` (the AWS base and
PyPI for a registry user; the stand-in base and ``.wheels/`` offline). Prints the image's size.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, dataclass

from scripts.container.toolchain import PLATFORM, ROOT, Toolchain, aws_base_image, log, run, toolchain

REPORT = ROOT / "reports" / "container-image.json"


@dataclass(frozen=True)
class ImageInfo:
    tag: str
    id: str
    platform: str
    size_bytes: int
    base_image: str
    builder: str
    build_seconds: float
    entrypoint: list[str]
    cmd: list[str]
    env: dict[str, str]

    @property
    def size_mb(self) -> float:
        return self.size_bytes / 1e6


def has_buildx() -> bool:
    return run(["docker", "buildx", "version"], check=False, timeout=60).returncode == 0


def build_command(tools: Toolchain, tag: str) -> tuple[list[str], dict[str, str], str]:
    """(command, environment, builder name) for ``docker build`` of the repository root."""
    args = ["--platform", PLATFORM, "--tag", tag, "--file", "Dockerfile"]
    if tools.base_image != aws_base_image():
        args += ["--build-arg", f"BASE_IMAGE={tools.base_image}"]
    if tools.build_network:
        args += ["--network", tools.build_network]
    if has_buildx():
        return (["docker", "buildx", "build", "--load", "--provenance=false", "--sbom=false", *args, "."],
                tools.env, "buildx (no attestations)")
    # --force-rm: a failed step leaves no stopped container behind.
    return ["docker", "build", "--force-rm", *args, "."], {**tools.env, "DOCKER_BUILDKIT": "0"}, "classic"


def inspect(tag: str) -> dict:
    return json.loads(run(["docker", "image", "inspect", tag]).stdout)[0]


def build(tag: str | None = None, *, quiet: bool = False) -> ImageInfo:
    tools = toolchain()
    tag = tag or tools.image_tag
    cmd, env, builder = build_command(tools, tag)
    log(f"building {tag} on {tools.base_image} ({builder}{', offline wheels' if tools.wheels else ''})")
    started = time.monotonic()
    run(cmd, env=env, capture=quiet, timeout=1200)
    seconds = time.monotonic() - started
    details = inspect(tag)
    config = details["Config"]
    info = ImageInfo(
        tag=tag, id=details["Id"], platform=f"{details['Os']}/{details['Architecture']}",
        size_bytes=int(details["Size"]), base_image=tools.base_image, builder=builder,
        build_seconds=round(seconds, 1), entrypoint=config.get("Entrypoint") or [], cmd=config.get("Cmd") or [],
        env=dict(item.split("=", 1) for item in config.get("Env") or []),
    )
    REPORT.parent.mkdir(exist_ok=True)
    REPORT.write_text(json.dumps({**asdict(info), "size_mb": round(info.size_mb, 1)}, indent=2) + "\n")
    return info


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tag", help="image name:tag (default $IMAGE or sound-realty-price-service:local)")
    args = parser.parse_args(argv)
    info = build(args.tag)
    print(f"{info.tag}  {info.platform}  {info.size_mb:.1f} MB  base {info.base_image}  "
          f"built in {info.build_seconds:.1f} s ({info.builder}); recorded in {REPORT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
