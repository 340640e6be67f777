"""What the serving code may need besides its image: the contract a stack uses to wire it in.

A ``RuntimeDependency`` (for instance the model registry: an S3 bucket and an SSM parameter)
grants the runtime principal what it needs and tells it where to look. Both stacks take a
sequence of them and bind each to their runtime (the Lambda function's role, the ECS task
role), so a new dependency is one construct and one line in ``infra/app.py``:

    registry = ModelRegistry(shared_stack, "Models", ...)
    ServerlessStack(app, ..., dependencies=[registry])
    EcsStack(app, ..., dependencies=[registry])
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol, runtime_checkable

from aws_cdk import aws_iam as iam


@runtime_checkable
class RuntimeDependency(Protocol):
    def bind(self, grantee: iam.IGrantable) -> Mapping[str, str]:
        """Grant ``grantee`` least-privilege access; return the environment variables that locate it."""
        ...
