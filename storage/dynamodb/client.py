"""The one DynamoDB client of a process, error translation, pagination and batch writes."""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    NoCredentialsError,
    PartialCredentialsError,
)

from storage.errors import StorageError, StorageUnavailable

if TYPE_CHECKING:  # boto3-stubs, a dev dependency
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import WriteRequestOutputTypeDef, WriteRequestTypeDef

Item = dict[str, Any]

BATCH_LIMIT = 25  # BatchWriteItem refuses more
BATCH_ATTEMPTS = 8
TRANSIENT_CODES = frozenset({
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "InternalServerError",
    "ServiceUnavailable",
    "LimitExceededException",
})

CLIENT_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 5},
    connect_timeout=3,
    read_timeout=10,
    max_pool_connections=32,
)

_clients: dict[tuple[str, str], DynamoDBClient] = {}
_clients_lock = threading.Lock()


def shared_client(region: str, endpoint_url: str = "") -> DynamoDBClient:
    """The process's DynamoDB client for this region and endpoint, built on first use."""
    key = (region, endpoint_url)
    with _clients_lock:
        if key not in _clients:
            _clients[key] = build_client(region, endpoint_url)
        return _clients[key]


def build_client(region: str, endpoint_url: str = "") -> DynamoDBClient:
    """A client for `region`, else the region of the user's AWS configuration (AWS_REGION,
    AWS_DEFAULT_REGION, the profile's), never one of our choosing: tables made in a region
    the deployed stack does not use would hold users and tokens the stack never sees."""
    try:
        return _client(region, endpoint_url)
    except BotoCoreError as exc:  # a profile that is not there, half a key pair
        raise StorageError(f"the AWS configuration cannot be used: {exc}") from exc


def _client(region: str, endpoint_url: str) -> DynamoDBClient:
    session = boto3.session.Session()
    region = region or configured_region(session) or ("local" if endpoint_url else "")
    if not region:
        raise StorageError(
            "no AWS region: set the one your tables are in (the stack's) with `aws configure "
            "set region REGION`, AWS_REGION, or [storage.dynamodb] region "
            "(SENSORBOT_STORAGE__DYNAMODB__REGION)")
    options: dict[str, Any] = {"region_name": region, "config": CLIENT_CONFIG}
    if endpoint_url:
        options["endpoint_url"] = endpoint_url
        if session.get_credentials() is None:
            # Local DynamoDB-compatible servers accept any credentials; spare the user a setup step.
            options.update(aws_access_key_id="local", aws_secret_access_key="local")  # noqa: S106
    return session.client("dynamodb", **options)


def configured_region(session: boto3.session.Session) -> str:
    """The AWS configuration's region: AWS_REGION, as the AWS CLI and Lambda read it (botocore
    itself reads only AWS_DEFAULT_REGION), else AWS_DEFAULT_REGION or the profile's region;
    "" when none is set."""
    return os.environ.get("AWS_REGION") or session.region_name or ""


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


@contextmanager
def translated() -> Iterator[None]:
    """botocore failures become StorageUnavailable (transient) or StorageError."""
    try:
        yield
    except ClientError as exc:
        code = error_code(exc)
        if code in TRANSIENT_CODES:
            raise StorageUnavailable(f"DynamoDB is throttling or unavailable ({code})") from exc
        detail = exc.response.get("Error", {}).get("Message", "")
        raise StorageError(f"DynamoDB refused the request ({code}: {detail})") from exc
    except (NoCredentialsError, PartialCredentialsError) as exc:
        raise StorageUnavailable(NO_CREDENTIALS) from exc
    except BotoCoreError as exc:
        raise StorageUnavailable(f"DynamoDB is unreachable ({type(exc).__name__})") from exc


# Unavailable rather than refused: credentials an instance role hands out can be late.
NO_CREDENTIALS = (
    "no AWS credentials: set them up with `aws configure` (or AWS_PROFILE, or "
    "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY); for a local DynamoDB-compatible server, "
    "set [storage.dynamodb] endpoint_url instead (SENSORBOT_STORAGE__DYNAMODB__ENDPOINT_URL)")


class CapacityMeter:
    """Adds up ConsumedCapacity, so operators and benchmarks see what each path costs."""

    def __init__(self) -> None:
        self.read_units = 0.0
        self.write_units = 0.0
        self._lock = threading.Lock()

    def add(self, response: Mapping[str, Any], *, write: bool) -> None:
        consumed = response.get("ConsumedCapacity")
        entries = consumed if isinstance(consumed, list) else [consumed] if consumed else []
        units = sum(float(entry.get("CapacityUnits", 0) or 0) for entry in entries)
        with self._lock:
            if write:
                self.write_units += units
            else:
                self.read_units += units


def query_pages(client: DynamoDBClient, meter: CapacityMeter, **request: Any) -> Iterator[Item]:
    """Every item of a Query, following LastEvaluatedKey."""
    request = {**request, "ReturnConsumedCapacity": "TOTAL"}
    while True:
        with translated():
            page = client.query(**request)
        meter.add(page, write=False)
        yield from page.get("Items", [])
        last_key = page.get("LastEvaluatedKey")
        if not last_key:
            return
        request["ExclusiveStartKey"] = last_key


def batch_write(
    client: DynamoDBClient,
    meter: CapacityMeter,
    table: str,
    items: Sequence[Item],
    *,
    sleep: Callable[[float], None] = time.sleep,
    attempts: int = BATCH_ATTEMPTS,
    base_delay: float = 0.05,
) -> None:
    """PutRequests in batches of 25; UnprocessedItems retried with bounded, jittered backoff.

    Raises StorageUnavailable naming how many items were not written: never a silent loss.
    """
    batch_requests(client, meter, table, [{"PutRequest": {"Item": item}} for item in items],
                   sleep=sleep, attempts=attempts, base_delay=base_delay)


def batch_delete(client: DynamoDBClient, meter: CapacityMeter, table: str,
                 keys: Sequence[Item], *, sleep: Callable[[float], None] = time.sleep) -> None:
    """DeleteRequests of these keys, as batch_write sends its puts."""
    batch_requests(client, meter, table, [{"DeleteRequest": {"Key": key}} for key in keys],
                   sleep=sleep)


def batch_requests(
    client: DynamoDBClient,
    meter: CapacityMeter,
    table: str,
    requests: Sequence[WriteRequestTypeDef],
    *,
    sleep: Callable[[float], None] = time.sleep,
    attempts: int = BATCH_ATTEMPTS,
    base_delay: float = 0.05,
) -> None:
    """BatchWriteItem requests, 25 at a time, UnprocessedItems retried."""
    for start in range(0, len(requests), BATCH_LIMIT):
        pending: Sequence[WriteRequestTypeDef | WriteRequestOutputTypeDef] = \
            requests[start:start + BATCH_LIMIT]
        for attempt in range(attempts):
            with translated():
                response = client.batch_write_item(
                    RequestItems={table: pending}, ReturnConsumedCapacity="TOTAL"
                )
            meter.add(response, write=True)
            pending = response.get("UnprocessedItems", {}).get(table, [])
            if not pending:
                break
            if attempt + 1 < attempts:
                sleep(random.uniform(0, min(2.0, base_delay * 2**attempt)))
        if pending:
            unwritten = len(pending) + max(0, len(requests) - start - BATCH_LIMIT)
            raise StorageUnavailable(
                f"DynamoDB left {unwritten} of {len(requests)} items unwritten after {attempts} "
                "tries"
            )
