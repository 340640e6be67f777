"""The real server on a free loopback port, shared by the tests of this folder."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from scripts.local_server import running_server


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with running_server() as url:
        yield url
