"""The AWS managed policies SAM attaches to a function's role, as AWS documents them
(the AWS Managed Policy Reference, default version): every function gets
AWSLambdaBasicExecutionRole, `Tracing: Active` adds AWSXrayWriteOnlyAccess, and an SQS
event source adds AWSLambdaSQSQueueExecutionRole. Any other managed policy is unknown
here and raises: the check must not pass on a policy it cannot read."""

from __future__ import annotations

from typing import Any

MANAGED_POLICY_PREFIX = "arn:aws:iam::aws:policy/"

MANAGED_POLICIES: dict[str, dict[str, Any]] = {
    # v1, 2015-04-09
    "service-role/AWSLambdaBasicExecutionRole": {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": "*",
            }
        ],
    },
    # v2, 2018-08-28
    "AWSXrayWriteOnlyAccess": {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": [
                    "xray:PutTraceSegments",
                    "xray:PutTelemetryRecords",
                    "xray:GetSamplingRules",
                    "xray:GetSamplingTargets",
                    "xray:GetSamplingStatisticSummaries",
                ],
                "Resource": ["*"],
            }
        ],
    },
    # v1, 2018-06-14
    "service-role/AWSLambdaSQSQueueExecutionRole": {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": [
                    "sqs:ReceiveMessage",
                    "sqs:DeleteMessage",
                    "sqs:GetQueueAttributes",
                    "logs:CreateLogGroup",
                    "logs:CreateLogStream",
                    "logs:PutLogEvents",
                ],
                "Resource": "*",
            }
        ],
    },
}


class UnknownManagedPolicy(LookupError):
    pass


def managed_policy(arn: str) -> tuple[str, dict[str, Any]]:
    """The name and document of the AWS managed policy `arn` (any partition)."""
    parts = arn.split(":", 5)
    if len(parts) == 6 and parts[:2] == ["arn", parts[1]] and parts[2:5] == ["iam", "", "aws"]:
        path = parts[5].removeprefix("policy/")
        if path in MANAGED_POLICIES:
            return path.rsplit("/", 1)[-1], MANAGED_POLICIES[path]
    raise UnknownManagedPolicy(
        f"managed policy {arn} is not known to the IAM check: add its documented statements"
        " to round0_testkit/iam/managed.py"
    )
