"""Containers started by the tier's helpers are removed even when the code using them fails."""

from __future__ import annotations

import pytest

from scripts.container.toolchain import detached_container, run, unique_name

pytestmark = pytest.mark.container


def test_a_container_is_removed_when_the_test_using_it_fails(built_image):
    name = unique_name("cleanup")

    with pytest.raises(RuntimeError, match="the test failed"), \
            detached_container(name, ["--entrypoint", "sleep"], built_image.tag, ["60"]):
        assert run(["docker", "ps", "-q", "--filter", f"name={name}"]).stdout.strip()
        raise RuntimeError("the test failed")

    assert run(["docker", "ps", "-aq", "--filter", f"name={name}"]).stdout.strip() == ""
