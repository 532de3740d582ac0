"""Prints the ARN that STS GetCallerIdentity returns to botocore with its default credential chain.

In a pod without AWS_* credentials that chain ends at the instance metadata service (169.254.169.254, or
AWS_EC2_METADATA_SERVICE_ENDPOINT), which is what podiam's proxy answers. AWS_ENDPOINT_URL_STS points
it at a test STS. Exit 1 with the error's name when there is no identity.
"""
import os
import sys

import botocore.session
from botocore.config import Config

try:
    session = botocore.session.get_session()
    sts = session.create_client(
        "sts", region_name=os.environ.get("AWS_REGION", "us-east-1"), config=Config(retries={"max_attempts": 1})
    )
    print(sts.get_caller_identity()["Arn"])
except Exception as err:  # noqa: BLE001 - any failure means no identity; say which
    print(f"no identity: {type(err).__name__}: {err}", file=sys.stderr)
    sys.exit(1)
