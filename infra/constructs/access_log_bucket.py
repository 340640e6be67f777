"""An S3 bucket for the load balancer's access logs: private, TLS-only, S3-managed encryption
(the only kind ELB log delivery supports), objects expiring after ``ALB_ACCESS_LOG_EXPIRY``."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra import constants as c
from infra.nag import acknowledge


class AccessLogBucket(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, expiry: Duration = c.ALB_ACCESS_LOG_EXPIRY) -> None:
        super().__init__(scope, construct_id)
        self.bucket = s3.Bucket(
            self, "Bucket",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            lifecycle_rules=[s3.LifecycleRule(expiration=expiry)],
        )
        acknowledge(self.bucket, "AwsSolutions-S1",
                    "This bucket holds access logs itself; logging access to it would need another bucket that "
                    "nothing reads.")
