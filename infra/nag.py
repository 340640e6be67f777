"""cdk-nag (AwsSolutionsChecks) on the app, and the one way constructs acknowledge a finding.

cdk-nag 3 runs as a CDK policy-validation plugin: any unacknowledged error fails synthesis
(``cdk synth`` and ``App.synth()`` alike) and the report lands in ``cdk.out``. Each
acknowledgement sits beside the resource it concerns and carries a one-line reason.
"""

from aws_cdk import Acknowledgment, App, Validations
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct


def check(app: App) -> None:
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))


def acknowledge(scope: IConstruct, rule_id: str, reason: str) -> None:
    """Acknowledge ``rule_id`` (e.g. ``AwsSolutions-IAM5[Resource::*]``) on ``scope`` and its children."""
    if not reason.strip():
        raise ValueError(f"acknowledging {rule_id} needs a reason")
    Validations.of(scope).acknowledge(Acknowledgment(id=rule_id, reason=reason))
