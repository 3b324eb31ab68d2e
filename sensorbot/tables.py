"""`sensorbot init` on DynamoDB: adopt the tables there are, create missing ones only when told.

The SAM stack owns the tables it makes: a table `init` created first would make the stack's
deploy fail. And a region other than the stack's would hold users and tokens the stack never
sees. So init says where it looked and what it found, and creates only on `--create-tables`.
"""

from __future__ import annotations

import sys
from typing import Any, TextIO

from storage.base import Store
from storage.dynamodb import DynamoDBStore
from storage.errors import StorageError

LIVE_STACKS = ["CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE",
               "IMPORT_COMPLETE", "CREATE_IN_PROGRESS", "UPDATE_IN_PROGRESS"]


class MissingTables(StorageError):
    """Tables init was not told to create."""


def init_tables(store: Store, *, create: bool, endpoint_url: str = "",
                out: TextIO | None = None) -> None:
    assert isinstance(store, DynamoDBStore)
    out = out or sys.stderr
    names = [store.measurements_table, store.meta_table, store.statistics_table]
    before = store.existing_tables()
    missing = [name for name in names if name not in before]
    if missing and not create:
        raise MissingTables(
            f"no table {' or '.join(repr(n) for n in missing)} in region {store.region}. If a "
            "sensorbot stack will own them, deploy it first (docs/aws.md) and run init after; "
            "if it is deployed, check the region (AWS_REGION, `aws configure get region`). For "
            "sensorbot on a machine without the stack: sensorbot init --create-tables")
    owners = {} if endpoint_url else stack_owners(store.region, before)
    if missing or set(before) - set(owners):  # a stack's own tables are left to it
        for warning in store.init():
            print(warning, file=out)
    for name in names:
        found = "created" if name in missing else (
            f"owned by the stack {owners[name]!r}, left as it is" if name in owners
            else "there, adopted as it is")
        print(f"table {name!r} in {store.region}: {found}", file=out)


def stack_owners(region: str, tables: set[str]) -> dict[str, str]:
    """Which of these tables a CloudFormation stack made → its name. Empty when the stacks
    cannot be read (no permission): init then only adopts, as for any existing table."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    cloudformation: Any = boto3.client("cloudformation", region_name=region)
    owners: dict[str, str] = {}
    try:
        for page in cloudformation.get_paginator("list_stacks").paginate(
                StackStatusFilter=LIVE_STACKS):
            for stack in page["StackSummaries"]:
                for resources in cloudformation.get_paginator("list_stack_resources").paginate(
                        StackName=stack["StackName"]):
                    owners |= {r["PhysicalResourceId"]: stack["StackName"]
                               for r in resources["StackResourceSummaries"]
                               if r["ResourceType"] == "AWS::DynamoDB::Table"
                               and r.get("PhysicalResourceId") in tables}
    except (BotoCoreError, ClientError):
        return {}
    return owners
