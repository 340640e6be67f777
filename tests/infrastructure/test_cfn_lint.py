"""cfn-lint on every synthesized template: no errors, and no warning but CDK's habit (W3005)."""

from __future__ import annotations

import json

import pytest
from cfnlint.api import lint

# W3005: CDK writes an explicit DependsOn beside a Ref/GetAtt that already implies it.
ACCEPTED_WARNINGS = {"W3005"}


@pytest.mark.parametrize("configuration", ["with_ecs", "scaled"])
def test_templates_lint_clean(request, configuration):
    synthesized = request.getfixturevalue(configuration)
    for stack in synthesized.assembly.stacks:
        matches = lint(json.dumps(stack.template), regions=[stack.environment.region])
        errors = [f"{m.rule.id} {m.message} ({'/'.join(map(str, m.path))})" for m in matches if m.rule.id[0] in "EF"]
        warnings = {m.rule.id for m in matches if m.rule.id.startswith("W")} - ACCEPTED_WARNINGS
        assert not errors, f"{stack.stack_name}: {errors}"
        assert not warnings, f"{stack.stack_name}: {warnings}"
