"""``sam local invoke`` leaves no container behind, also when it hangs past its timeout. No Docker:
a stand-in SAM CLI logs a container id the way SAM does, and the removal is recorded."""

from __future__ import annotations

import os
import sys
import textwrap
import time
from pathlib import Path

import pytest

from scripts.container import sam_local
from scripts.container.toolchain import Toolchain

# Logs its container like SAM, then answers at once, or starts a child (as a wrapper or a bundled
# binary would) and hangs; the child's pid lands beside the event file.
FAKE_SAM = textwrap.dedent("""
    import subprocess, sys, time
    from pathlib import Path
    event = Path(sys.argv[sys.argv.index("--event") + 1])
    print("Invoking lambda_fn.api.handler.lambda_handler", file=sys.stderr)
    print("SAM_CONTAINER_ID: c0ffee", file=sys.stderr, flush=True)
    if event.stem == "hangs":
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
        event.with_suffix(".child").write_text(str(child.pid))
        time.sleep(120)
    print('{"statusCode": 200, "body": "{}"}', flush=True)
""")


@pytest.fixture
def removed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    script = tmp_path / "fake_sam.py"
    script.write_text(FAKE_SAM)
    tools = Toolchain(base_image="stand-in", sam_cli=(sys.executable, str(script)), build_network=None,
                      wheels=None, image_tag="stand-in", env=dict(os.environ))
    monkeypatch.setattr(sam_local, "toolchain", lambda: tools)
    containers: list[str] = []
    monkeypatch.setattr(sam_local, "remove_container", containers.append)
    return containers


def _sam_build(tmp_path: Path) -> sam_local.SamBuild:
    return sam_local.SamBuild(tmp_path / "template.yaml", "PriceFunction", "pricefunction:sam-local", {})


def _running(pid: int, *, settle_seconds: float = 5.0) -> bool:
    """Whether ``pid`` still runs once a SIGKILL already sent has had ``settle_seconds`` to land:
    the kernel delivers a group's kill to each member asynchronously, and a busy machine (a CI run)
    can show the grandchild alive for a moment after its group leader has been reaped."""
    deadline = time.monotonic() + settle_seconds
    while True:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return False
        if state == "Z":  # a zombie has been killed, only not yet reaped by its new parent
            return False
        if time.monotonic() > deadline:
            return True
        time.sleep(0.05)


def _event(tmp_path: Path, name: str) -> Path:
    event = tmp_path / f"{name}.json"
    event.write_text("{}")
    return event


def test_a_sam_invoke_that_times_out_is_killed_and_its_container_removed(tmp_path, removed):
    event = _event(tmp_path, "hangs")
    started = time.monotonic()

    invocation = sam_local.invoke(_sam_build(tmp_path), event, timeout=3)

    assert time.monotonic() - started < 30
    assert removed == ["c0ffee"]
    assert invocation.response is None
    assert "stopped after 3 s" in invocation.log
    assert not _running(int(event.with_suffix(".child").read_text()))


def test_a_finished_sam_invoke_answers_and_its_container_is_removed(tmp_path, removed):
    invocation = sam_local.invoke(_sam_build(tmp_path), _event(tmp_path, "answers"), timeout=60)

    assert (invocation.returncode, invocation.status) == (0, 200)
    assert removed == ["c0ffee"]
    assert "SAM_CONTAINER_ID: c0ffee" in invocation.log
