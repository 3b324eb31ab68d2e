"""deploy/template.yaml: lint-clean, its handlers exist, and the SAM transform of it deploys
into moto's CloudFormation with the tables, TTL, Retain policies and least-privilege roles."""

from __future__ import annotations

import ast
import copy
import functools
import importlib
import io
import json
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

pytestmark = [pytest.mark.filterwarnings("ignore:Tried to parse AWS..Lambda..Url"),
              pytest.mark.filterwarnings("ignore:Tried to parse AWS..Lambda..EventInvokeConfig")]

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "deploy" / "template.yaml"
REGION = "eu-north-1"
FUNCTIONS = ("ApiFunction", "AlertsFunction", "BotFunction")
# moto's CloudFormation has no AWS::Lambda::Url (nor EventInvokeConfig): it skips those
# resources, so the outputs that read their URLs are checked on the transformed template instead
# of the deployed stack.
URL_OUTPUTS = ("ApiUrl", "WebhookUrl")


def sam_template() -> dict[str, Any]:
    """The template as written: a copy each test may change (YAML parsed once, 90 ms)."""
    return copy.deepcopy(parsed_template())


@functools.cache
def parsed_template() -> dict[str, Any]:
    from samtranslator.yaml_helper import yaml_parse

    return yaml_parse(TEMPLATE.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: resource["Properties"] for name, resource in template["Resources"].items()
            if resource["Type"] == "AWS::Serverless::Function"}


def transformed(parameters: dict[str, str] | None = None) -> dict[str, Any]:
    """The template as CloudFormation sees it after `sam deploy` uploaded the code to S3: a copy
    each test may change (SAM's transform, 250 ms, runs once for each set of parameters)."""
    return copy.deepcopy(transformed_with(json.dumps(parameters or {}, sort_keys=True)))


@functools.cache
def transformed_with(parameters: str) -> dict[str, Any]:
    from samtranslator.translator.managed_policy_translator import ManagedPolicyLoader
    from samtranslator.translator.transform import transform

    template = sam_template()
    for name, properties in functions(template).items():
        properties["CodeUri"] = f"s3://artifacts/{name}.zip"
    with mock_aws():  # the loader looks AWS's managed policies up in IAM
        return transform(template, json.loads(parameters),  # type: ignore[no-any-return]
                         ManagedPolicyLoader(aws_client("iam", region_name=REGION)))


@functools.cache
def aws_session() -> boto3.Session:
    """One session for every client here: moto starts each test on a fresh default session,
    which read botocore's models anew for each client (60 ms of CPU, some 70 clients)."""
    import botocore.session

    return boto3.Session(botocore_session=botocore.session.get_session())


def aws_client(service: str, *, region_name: str) -> Any:
    return aws_session().client(service, region_name=region_name)  # type: ignore[call-overload]


def policy_document(raw: Any) -> dict[str, Any]:
    # moto returns inline policies that CloudFormation created as a Python repr string
    if isinstance(raw, dict):
        return raw
    try:
        return json.loads(raw)  # type: ignore[no-any-return]
    except ValueError:
        return ast.literal_eval(raw)  # type: ignore[no-any-return]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield


def deploy(stack: str, parameters: dict[str, str] | None = None) -> dict[str, Any]:
    """Upload placeholder code, create the stack in moto; the transformed template."""
    s3 = aws_client("s3", region_name=REGION)
    if not s3.list_buckets()["Buckets"]:
        s3.create_bucket(Bucket="artifacts",
                         CreateBucketConfiguration={"LocationConstraint": REGION})
        code = io.BytesIO()
        with zipfile.ZipFile(code, "w") as archive:
            archive.writestr("sensorbot/__init__.py", "")
        for name in FUNCTIONS:
            s3.put_object(Bucket="artifacts", Key=f"{name}.zip", Body=code.getvalue())
    template = transformed(parameters)
    deployable = json.loads(json.dumps(template))
    for output in URL_OUTPUTS:
        deployable["Outputs"].pop(output)
    cloudformation = aws_client("cloudformation", region_name=REGION)
    cloudformation.create_stack(
        StackName=stack, TemplateBody=json.dumps(deployable), Capabilities=["CAPABILITY_IAM"],
        Parameters=[{"ParameterKey": k, "ParameterValue": v}
                    for k, v in (parameters or {}).items()])
    status = cloudformation.describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"]
    assert status == "CREATE_COMPLETE"
    return template


def stack_resources(stack: str) -> dict[str, str]:
    cloudformation = aws_client("cloudformation", region_name=REGION)
    summaries = cloudformation.list_stack_resources(StackName=stack)["StackResourceSummaries"]
    return {s["LogicalResourceId"]: s.get("PhysicalResourceId", "") for s in summaries}


def role_statements(stack: str, role: str) -> list[dict[str, Any]]:
    iam = aws_client("iam", region_name=REGION)
    name = stack_resources(stack)[role]
    assert iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"] == []
    statements = []
    for policy in iam.list_role_policies(RoleName=name)["PolicyNames"]:
        document = policy_document(
            iam.get_role_policy(RoleName=name, PolicyName=policy)["PolicyDocument"])
        statements += document["Statement"]
    return statements


# -- the template itself --------------------------------------------------------------------

def test_it_passes_cfn_lint_without_errors_or_warnings() -> None:
    from cfnlint.api import ManualArgs, lint_file

    matches = lint_file(TEMPLATE, config=ManualArgs(regions=[REGION, "us-east-1"]))

    assert [str(match) for match in matches] == []


@pytest.mark.parametrize("name", FUNCTIONS)
def test_it_names_a_handler_that_imports_and_is_callable(name: str) -> None:
    handler = functions(sam_template())[name]["Handler"]
    module, _, attribute = handler.rpartition(".")

    assert callable(getattr(importlib.import_module(module), attribute))


def test_it_keeps_the_tables_with_ttl_point_in_time_recovery_and_retain() -> None:
    resources = sam_template()["Resources"]

    for name in ("MeasurementsTable", "MetaTable", "StatisticsTable"):
        table = resources[name]
        assert (table["DeletionPolicy"], table["UpdateReplacePolicy"]) == ("Retain", "Retain")
        assert table["Properties"]["TimeToLiveSpecification"] == {
            "AttributeName": "expires_at", "Enabled": True}
        assert table["Properties"]["PointInTimeRecoverySpecification"] == {
            "PointInTimeRecoveryEnabled": True}


def test_it_serves_the_api_and_the_webhook_on_public_function_urls(aws: None) -> None:
    template = transformed()
    resources = template["Resources"]

    for function, output in (("ApiFunction", "ApiUrl"), ("BotFunction", "WebhookUrl")):
        url = resources[f"{function}Url"]
        assert url["Type"] == "AWS::Lambda::Url"
        assert url["Properties"]["AuthType"] == "NONE"
        assert url["Properties"]["TargetFunctionArn"] == {"Ref": function}
        assert template["Outputs"][output]["Value"] == {
            "Fn::GetAtt": [f"{function}Url", "FunctionUrl"]}
    assert "FunctionUrlConfig" not in functions(sam_template())["AlertsFunction"]


def test_it_runs_arm64_with_json_logs_into_its_own_log_group(aws: None) -> None:
    resources = transformed()["Resources"]

    for name in FUNCTIONS:
        properties = resources[name]["Properties"]
        log_group = name.replace("Function", "LogGroup")
        assert properties["Architectures"] == ["arm64"]
        assert properties["LoggingConfig"]["LogGroup"] == {"Ref": log_group}
        assert properties["LoggingConfig"]["LogFormat"] == "JSON"
        assert resources[log_group]["Properties"]["RetentionInDays"] == {
            "Ref": "LogRetentionDays"}


# -- deployed into moto ---------------------------------------------------------------------

def test_it_deploys_the_tables_in_ranchdatas_layout(aws: None) -> None:
    deploy("sensorbot")
    dynamodb = aws_client("dynamodb", region_name=REGION)

    measurements = dynamodb.describe_table(TableName="measurement")["Table"]
    meta = dynamodb.describe_table(TableName="sensorbot-meta")["Table"]

    assert measurements["KeySchema"] == [{"AttributeName": "sensorId", "KeyType": "HASH"},
                                         {"AttributeName": "timestamp", "KeyType": "RANGE"}]
    assert {a["AttributeName"]: a["AttributeType"]
            for a in measurements["AttributeDefinitions"]} == {"sensorId": "S", "timestamp": "N"}
    assert meta["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"},
                                 {"AttributeName": "sk", "KeyType": "RANGE"}]
    [index] = meta["GlobalSecondaryIndexes"]
    assert (index["IndexName"], index["Projection"]) == ("gsi1", {"ProjectionType": "ALL"})
    assert [k["AttributeName"] for k in index["KeySchema"]] == ["gsi1pk", "gsi1sk"]
    statistics = dynamodb.describe_table(TableName="sensorbot-statistics")["Table"]
    assert statistics["KeySchema"] == [{"AttributeName": "sensorId", "KeyType": "HASH"},
                                       {"AttributeName": "hour", "KeyType": "RANGE"}]


def test_it_bills_the_tables_on_demand_unless_write_units_are_given(aws: None) -> None:
    deploy("on-demand", {"MeasurementsTableName": "m1", "MetaTableName": "meta1",
                         "StatisticsTableName": "statistics1"})
    deploy("provisioned", {"MeasurementsTableName": "m2", "MetaTableName": "meta2",
                           "StatisticsTableName": "statistics2", "MeasurementsWriteUnits": "17"})
    dynamodb = aws_client("dynamodb", region_name=REGION)

    def billing(table: str) -> tuple[str, int, int]:
        described = dynamodb.describe_table(TableName=table)["Table"]
        throughput = described.get("ProvisionedThroughput", {})
        return (described.get("BillingModeSummary", {}).get("BillingMode", "PROVISIONED"),
                throughput.get("ReadCapacityUnits", 0), throughput.get("WriteCapacityUnits", 0))

    assert billing("m1") == ("PAY_PER_REQUEST", 0, 0)
    assert billing("m2") == ("PROVISIONED", 5, 17)
    assert billing("meta1")[0] == billing("meta2")[0] == "PAY_PER_REQUEST"
    assert billing("statistics1")[0] == billing("statistics2")[0] == "PAY_PER_REQUEST"


def test_it_adopts_an_existing_measurements_table_under_its_own_name(aws: None) -> None:
    dynamodb = aws_client("dynamodb", region_name=REGION)
    dynamodb.create_table(TableName="ranch-measurements", BillingMode="PAY_PER_REQUEST",
                          AttributeDefinitions=[{"AttributeName": "sensorId", "AttributeType": "S"},
                                                {"AttributeName": "timestamp",
                                                 "AttributeType": "N"}],
                          KeySchema=[{"AttributeName": "sensorId", "KeyType": "HASH"},
                                     {"AttributeName": "timestamp", "KeyType": "RANGE"}])

    deploy("adopting", {"MeasurementsTableName": "ranch-measurements",
                        "CreateMeasurementsTable": "false"})

    assert "MeasurementsTable" not in stack_resources("adopting")
    function = aws_client("lambda", region_name=REGION).get_function(
        FunctionName="adopting-api")["Configuration"]
    variables = function["Environment"]["Variables"]
    assert variables["SENSORBOT_STORAGE__DYNAMODB__MEASUREMENTS_TABLE"] == "ranch-measurements"
    readings = next(s for s in role_statements("adopting", "ApiRole") if s["Sid"] == "Readings")
    assert readings["Resource"].endswith(":table/ranch-measurements")


def test_it_leaves_the_tables_behind_when_the_stack_is_deleted(aws: None) -> None:
    deploy("sensorbot")
    cloudformation = aws_client("cloudformation", region_name=REGION)

    cloudformation.delete_stack(StackName="sensorbot")

    tables = aws_client("dynamodb", region_name=REGION).list_tables()["TableNames"]
    assert sorted(tables) == ["measurement", "sensorbot-meta", "sensorbot-statistics"]
    logs = aws_client("logs", region_name=REGION).describe_log_groups()["logGroups"]
    assert logs == []  # the stack's other resources did go


# Which DynamoDB actions each function's code calls (docs/aws.md, least privilege).
EXPECTED_ACTIONS = {
    "ApiRole": {"measurement": {"BatchWriteItem", "Query", "DescribeTable"},
                "sensorbot-meta": {"GetItem", "PutItem", "UpdateItem", "Query"},
                "sensorbot-statistics": {"Query"}},
    "AlertsRole": {"measurement": {"Query"},
                   "sensorbot-meta": {"Query", "GetItem", "PutItem", "UpdateItem", "DeleteItem"},
                   "sensorbot-meta/index/gsi1": {"Query"},
                   "sensorbot-statistics": {"Query", "BatchWriteItem"}},
    "BotRole": {"measurement": {"Query", "BatchWriteItem"},
                "sensorbot-meta": {"GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query"},
                "sensorbot-meta/index/gsi1": {"Query"},
                "sensorbot-statistics": {"Query", "BatchWriteItem"}},
}


def dynamodb_grants(statements: list[dict[str, Any]]) -> dict[str, set[str]]:
    """Table (or index) name → the DynamoDB actions allowed on it."""
    grants: dict[str, set[str]] = {}
    for statement in statements:
        actions = {a for a in as_list(statement["Action"]) if a.startswith("dynamodb:")}
        for resource in as_list(statement["Resource"]) if actions else []:
            assert ":table/" in resource, resource
            table = resource.split(":table/", 1)[1]
            grants.setdefault(table, set()).update(a.split(":", 1)[1] for a in actions)
    return grants


@pytest.mark.parametrize("role", sorted(EXPECTED_ACTIONS))
def test_it_grants_each_function_only_the_dynamodb_actions_its_code_calls(
        aws: None, role: str) -> None:
    deploy("sensorbot")

    statements = role_statements("sensorbot", role)

    assert dynamodb_grants(statements) == EXPECTED_ACTIONS[role]
    for statement in statements:
        assert statement["Effect"] == "Allow"
        assert "*" not in as_list(statement["Resource"])
        for action in as_list(statement["Action"]):
            assert "*" not in action
            assert action != "dynamodb:Scan"
            assert action.split(":")[0] in {"dynamodb", "logs", "ssm"}


def test_it_lets_only_the_functions_that_need_them_read_their_own_secrets(aws: None) -> None:
    deploy("sensorbot")

    def secrets(role: str) -> list[str]:
        return [resource for statement in role_statements("sensorbot", role)
                if statement["Action"] == "ssm:GetParameters"
                for resource in as_list(statement["Resource"])]

    prefix = f"arn:aws:ssm:{REGION}:123456789012:parameter"
    assert secrets("ApiRole") == []
    assert secrets("AlertsRole") == [f"{prefix}/sensorbot/bot-token"]
    assert secrets("BotRole") == [f"{prefix}/sensorbot/bot-token",
                                  f"{prefix}/sensorbot/webhook-secret"]


def test_it_runs_one_alert_cycle_a_minute_and_caps_the_apis_concurrency_when_asked(
        aws: None) -> None:
    deploy("sensorbot", {"ApiReservedConcurrency": "10"})
    rules = aws_client("events", region_name=REGION).list_rules()["Rules"]
    lambda_client = aws_client("lambda", region_name=REGION)

    assert [rule["ScheduleExpression"] for rule in rules] == ["rate(1 minute)"]
    target = aws_client("events", region_name=REGION).list_targets_by_rule(
        Rule=rules[0]["Name"])["Targets"]
    assert [t["Arn"].rsplit(":", 1)[1] for t in target] == ["sensorbot-alerts"]
    concurrency = lambda_client.get_function_concurrency(FunctionName="sensorbot-api")
    assert concurrency["ReservedConcurrentExecutions"] == 10


def test_lambda_does_not_retry_an_alert_cycle_itself(aws: None) -> None:
    """A cycle that raised or timed out is not run twice more by Lambda's asynchronous retries:
    the next tick is the retry, as for the schedule's own delivery."""
    template = deploy("sensorbot")  # moto skips the resource, but the stack still creates

    configs = [resource["Properties"] for resource in template["Resources"].values()
               if resource["Type"] == "AWS::Lambda::EventInvokeConfig"]
    assert [(c["FunctionName"], c["MaximumRetryAttempts"]) for c in configs] == [
        ({"Ref": "AlertsFunction"}, 0)]


def test_it_reserves_no_concurrency_by_default(aws: None) -> None:
    """A new account's whole quota may be 10, of which Lambda keeps 10 unreserved: reserving
    any by default would roll the first deploy back."""
    deploy("sensorbot")

    concurrency = aws_client("lambda", region_name=REGION).get_function_concurrency(
        FunctionName="sensorbot-api")
    assert concurrency.get("ReservedConcurrentExecutions") is None


@pytest.fixture
def init_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A machine set up as docs/aws.md says: DynamoDB, no region of its own (the AWS
    configuration's), no process-wide client left from another test."""
    from storage.dynamodb import client

    monkeypatch.setattr(client, "_clients", {})
    config = tmp_path / "config.toml"
    config.write_text('[storage]\nbackend = "dynamodb"\n', encoding="utf-8")
    return config


def test_init_before_the_stack_creates_nothing_and_says_where_it_looked(
        aws: None, init_config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from sensorbot.cli import main

    assert main(["init", "--config", str(init_config)]) == 1

    err = capsys.readouterr().err
    assert ("no table 'measurement' or 'sensorbot-meta' or 'sensorbot-statistics' "
            f"in region {REGION}") in err
    assert "deploy it first" in err and "--create-tables" in err
    assert aws_client("dynamodb", region_name=REGION).list_tables()["TableNames"] == []
    deploy("sensorbot")  # so the stack can still make its tables


def test_init_after_the_stack_leaves_the_stacks_tables_to_it(
        aws: None, init_config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from sensorbot.cli import main

    deploy("sensorbot")
    assert main(["init", "--config", str(init_config)]) == 0

    err = capsys.readouterr().err
    assert f"table 'measurement' in {REGION}: owned by the stack 'sensorbot', left as it is" \
        in err
    assert f"table 'sensorbot-meta' in {REGION}: owned by the stack 'sensorbot'" in err


def test_init_creates_missing_tables_when_told_in_the_aws_configurations_region(
        aws: None, init_config: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from sensorbot.cli import main

    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-west-2")
    assert main(["init", "--create-tables", "--config", str(init_config)]) == 0

    err = capsys.readouterr().err
    assert "table 'measurement' in us-west-2: created" in err
    assert "table 'sensorbot-meta' in us-west-2: created" in err
    assert sorted(aws_client("dynamodb", region_name="us-west-2").list_tables()[
        "TableNames"]) == ["measurement", "sensorbot-meta", "sensorbot-statistics"]
    assert aws_client("dynamodb", region_name=REGION).list_tables()["TableNames"] == []


def test_without_any_region_it_says_how_to_set_one(
        aws: None, init_config: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from sensorbot.cli import main

    for name in ("AWS_DEFAULT_REGION", "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(init_config.parent / "no-aws-config"))

    assert main(["users", "add", "Ranch", "--config", str(init_config)]) == 1
    assert "no AWS region" in capsys.readouterr().err


def test_the_migration_pages_takeover_deploys_beside_ranchdatas_table_and_init_adopts_it(
        aws: None, init_config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """docs/migrating.md, in its order: the stack (with the page's overrides) beside the table
    ranchdata made, then `sensorbot init`, which creates nothing."""
    from sensorbot.cli import main

    page = (ROOT / "docs" / "migrating.md").read_text(encoding="utf-8")
    overrides = re.search(r"--parameter-overrides ([^\n`]+)", page)
    assert overrides is not None
    assert page.index("sam deploy") < page.index("sensorbot init")  # the stack first
    parameters = dict(pair.split("=", 1) for pair in overrides[1].split())
    dynamodb = aws_client("dynamodb", region_name=REGION)
    dynamodb.create_table(TableName="measurement", BillingMode="PAY_PER_REQUEST",
                          AttributeDefinitions=[{"AttributeName": "sensorId", "AttributeType": "S"},
                                                {"AttributeName": "timestamp",
                                                 "AttributeType": "N"}],
                          KeySchema=[{"AttributeName": "sensorId", "KeyType": "HASH"},
                                     {"AttributeName": "timestamp", "KeyType": "RANGE"}])

    deploy("sensorbot", parameters)  # CREATE_COMPLETE
    assert main(["init", "--config", str(init_config)]) == 0

    err = capsys.readouterr().err
    assert "MeasurementsTable" not in stack_resources("sensorbot")
    assert f"table 'measurement' in {REGION}: there, adopted as it is" in err
    assert f"table 'sensorbot-meta' in {REGION}: owned by the stack 'sensorbot'" in err
