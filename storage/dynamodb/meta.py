"""Everything but readings, in one table (single-table design; docs/storage.md, "Metadata table").

| record     | pk               | sk             | gsi1pk          | gsi1sk            |
|------------|------------------|----------------|-----------------|-------------------|
| user       | USER#<user>      | USER           | USERS           | <user>            |
| sensor     | USER#<user>      | SENSOR#<id>    |                 |                   |
| outside    | USER#<user>      | OUTSIDE        |                 |                   |
| alert rule | USER#<user>      | RULE#<rule>    | RULES           | <user>#<rule>     |
| token      | TOKEN#<sha256>   | TOKEN          | TOKENS          | <token id>        |
| chat link  | CHAT#<chat id>   | CHAT           | USER#<user>     | CHAT#<chat id>    |
| invite     | INVITE#<code>    | INVITE         |                 |                   |
| update     | UPDATE#<id>      | UPDATE         |                 |                   |

Telegram updates a webhook took expire by TTL (`expires_at`, epoch seconds) a day after.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import replace
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeSerializer
from botocore.exceptions import ClientError

from storage.base import UNSET, UPDATE_MEMORY_MS, Unset
from storage.codec import dump_spec, dump_state, load_spec, load_state
from storage.dynamodb.client import CapacityMeter, Item, error_code, query_pages, translated
from storage.dynamodb.numbers import NumberSafeDeserializer
from storage.errors import AlreadyExists, StorageUnavailable
from storage.models import (
    AlertRule,
    AlertState,
    ApiToken,
    ChatLink,
    Invite,
    OutsideSettings,
    Sensor,
    User,
    check_sensor_id,
    check_user_id,
)

if TYPE_CHECKING:  # boto3-stubs, a dev dependency
    from mypy_boto3_dynamodb import DynamoDBClient

GSI = "gsi1"
KNOWN_FOR_MS = 3_600_000  # a sensor deleted by another process is registered again within this
PRESET_TRIES = 5  # a preset's rule rewritten by other processes this often in a row: give up
_serializer = TypeSerializer()
_deserializer = NumberSafeDeserializer()


def to_item(values: Mapping[str, Any]) -> Item:
    return {k: _serializer.serialize(v) for k, v in values.items() if v is not None}


def from_item(item: Item) -> dict[str, Any]:
    return {k: _deserializer.deserialize(v) for k, v in item.items()}


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def _decimal(value: float | None) -> Decimal | None:
    """DynamoDB's Number takes decimals: the float's shortest text, so it reads back equal."""
    return None if value is None else Decimal(repr(value))


def user_from(row: dict[str, Any]) -> User:
    return User(row["user_id"], row["name"], int(row["created"]))


def token_from(row: dict[str, Any]) -> ApiToken:
    return ApiToken(row["token_id"], row["token_hash"], row["user_id"], row["scope"],
                    row.get("label", ""), int(row["created"]), _int(row.get("last_used")),
                    bool(row.get("revoked", False)))


def link_from(row: dict[str, Any]) -> ChatLink:
    return ChatLink(int(row["chat_id"]), row["user_id"], int(row["linked_at"]),
                    bool(row.get("active", True)), row.get("timezone"), row.get("quiet_hours"))


def invite_from(row: dict[str, Any]) -> Invite:
    return Invite(row["code"], row["user_id"], int(row["created"]), int(row["expires"]),
                  _int(row.get("used_by")), _int(row.get("used_at")))


def rule_from(row: dict[str, Any]) -> AlertRule:
    state = load_state(row["status"], int(row["version"]), row["data"])
    return AlertRule(row["user_id"], row["rule_id"], row["sensor"], load_spec(row["spec"]),
                     int(row["created"]), state)


def rule_values(rule: AlertRule) -> dict[str, Any]:
    return {"pk": f"USER#{rule.user_id}", "sk": f"RULE#{rule.rule_id}", "gsi1pk": "RULES",
            "gsi1sk": f"{rule.user_id}#{rule.rule_id}", "user_id": rule.user_id,
            "rule_id": rule.rule_id, "sensor": rule.sensor, "spec": dump_spec(rule.spec),
            "created": rule.created, "status": rule.state.status.value,
            "version": rule.state.version, "data": dump_state(rule.state)}


class MetaMixin:
    """The metadata half of DynamoDBStore."""

    _client: DynamoDBClient
    _meter: CapacityMeter
    meta_table: str
    _known_sensors: dict[str, dict[str, int]]  # user → sensor → when known to be registered

    # -- plumbing ---------------------------------------------------------------------------

    def _get(self, pk: str, sk: str) -> dict[str, Any] | None:
        with translated():
            response = self._client.get_item(
                TableName=self.meta_table, Key=to_item({"pk": pk, "sk": sk}),
                ConsistentRead=True, ReturnConsumedCapacity="TOTAL",
            )
        self._meter.add(response, write=False)
        return from_item(response["Item"]) if "Item" in response else None

    def _put(self, values: Mapping[str, Any], *, only_new: bool = False) -> bool:
        request: dict[str, Any] = {"TableName": self.meta_table, "Item": to_item(values),
                                   "ReturnConsumedCapacity": "TOTAL"}
        if only_new:
            request["ConditionExpression"] = "attribute_not_exists(pk)"
        return self._write(self._client.put_item, request)

    def _update(self, pk: str, sk: str, **request: Any) -> dict[str, Any] | None:
        """UpdateItem; the new item, or None when its condition failed."""
        request.update(TableName=self.meta_table, Key=to_item({"pk": pk, "sk": sk}),
                       ReturnValues="ALL_NEW", ReturnConsumedCapacity="TOTAL")
        response: dict[str, Any] = {}
        if not self._write(self._client.update_item, request, response):
            return None
        return from_item(response.get("Attributes", {}))

    def _delete(self, pk: str, sk: str) -> bool:
        request = {"TableName": self.meta_table, "Key": to_item({"pk": pk, "sk": sk}),
                   "ReturnValues": "ALL_OLD", "ReturnConsumedCapacity": "TOTAL"}
        response: dict[str, Any] = {}
        self._write(self._client.delete_item, request, response)
        return bool(response.get("Attributes"))

    def _write(self, call: Any, request: dict[str, Any], out: dict[str, Any] | None = None) -> bool:
        """A write whose condition may fail; False when it did."""
        with translated():
            try:
                response = call(**request)
            except ClientError as exc:
                if error_code(exc) != "ConditionalCheckFailedException":
                    raise
                return False
        self._meter.add(response, write=True)
        if out is not None:
            out.update(response)
        return True

    def _query(self, key_condition: str, values: Mapping[str, Any], *,
               index: str | None = None) -> Iterator[dict[str, Any]]:
        request: dict[str, Any] = {
            "TableName": self.meta_table,
            "KeyConditionExpression": key_condition,
            "ExpressionAttributeValues": to_item(values),
        }
        if index:
            request["IndexName"] = index
        else:
            request["ConsistentRead"] = True
        for item in query_pages(self._client, self._meter, **request):
            yield from_item(item)

    # -- sensors ------------------------------------------------------------------------------

    def _register_sensors(self, user_id: str, sensors: set[str], now_ms: int) -> None:
        """Record new sensors; known ones cost nothing, so a reading costs one write. What
        this process knows is checked again hourly: another process may have deleted one."""
        known = self._known_sensors.get(user_id)
        if known is None:
            known = dict.fromkeys((s.sensor_id for s in self.list_sensors(user_id)), now_ms)
            self._known_sensors[user_id] = known
        for sensor in sensors:
            if now_ms - known.get(sensor, -KNOWN_FOR_MS) < KNOWN_FOR_MS:
                continue
            self._put({"pk": f"USER#{user_id}", "sk": f"SENSOR#{sensor}", "sensor": sensor,
                       "created": now_ms}, only_new=True)
            known[sensor] = now_ms

    def list_sensors(self, user_id: str) -> list[Sensor]:
        rows = self._query("pk = :pk AND begins_with(sk, :sk)",
                           {":pk": f"USER#{user_id}", ":sk": "SENSOR#"})
        return [Sensor(r["sensor"], r.get("name"), r.get("unit"), int(r["created"])) for r in rows]

    def get_sensor(self, user_id: str, sensor: str) -> Sensor | None:
        row = self._get(f"USER#{user_id}", f"SENSOR#{sensor}")
        return Sensor(row["sensor"], row.get("name"), row.get("unit"), int(row["created"])) \
            if row else None

    def update_sensor(
        self, user_id: str, sensor: str, *, now_ms: int,
        name: str | Unset | None = UNSET, unit: str | Unset | None = UNSET,
    ) -> Sensor:
        check_sensor_id(sensor)
        sets = ["#sensor = :sensor", "#created = if_not_exists(#created, :now)"]
        removes: list[str] = []
        values: dict[str, Any] = {":sensor": sensor, ":now": now_ms}
        for attribute, value in (("name", name), ("unit", unit)):
            if isinstance(value, Unset):
                continue
            if value is None:
                removes.append(f"#{attribute}")
            else:
                sets.append(f"#{attribute} = :{attribute}")
                values[f":{attribute}"] = value
        expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
        names = {f"#{a}": a for a in ("sensor", "created", "name", "unit") if f"#{a}" in expression}
        row = self._update(f"USER#{user_id}", f"SENSOR#{sensor}", UpdateExpression=expression,
                           ExpressionAttributeNames=names,
                           ExpressionAttributeValues=to_item(values)) or {}
        self._known_sensors.setdefault(user_id, {})[sensor] = now_ms
        return Sensor(sensor, row.get("name"), row.get("unit"), int(row.get("created", now_ms)))

    # -- users and tokens ---------------------------------------------------------------------

    def add_user(self, user: User) -> None:
        check_user_id(user.user_id)
        values = {"pk": f"USER#{user.user_id}", "sk": "USER", "gsi1pk": "USERS",
                  "gsi1sk": user.user_id, "user_id": user.user_id, "name": user.name,
                  "created": user.created}
        if not self._put(values, only_new=True):
            raise AlreadyExists(f"user {user.user_id!r} already exists")

    def get_user(self, user_id: str) -> User | None:
        row = self._get(f"USER#{user_id}", "USER")
        return user_from(row) if row else None

    def list_users(self) -> list[User]:
        return [user_from(r) for r in self._query("gsi1pk = :p", {":p": "USERS"}, index=GSI)]

    def get_outside_settings(self, user_id: str) -> OutsideSettings | None:
        row = self._get(f"USER#{user_id}", "OUTSIDE")
        if row is None:
            return None
        return OutsideSettings(user_id, row.get("outdoor_sensor"), _float(row.get("latitude")),
                               _float(row.get("longitude")))

    def put_outside_settings(self, settings: OutsideSettings) -> None:
        self._put({"pk": f"USER#{settings.user_id}", "sk": "OUTSIDE",
                   "outdoor_sensor": settings.outdoor_sensor,
                   "latitude": _decimal(settings.latitude),
                   "longitude": _decimal(settings.longitude)})

    def add_token(self, token: ApiToken) -> None:
        values = {"pk": f"TOKEN#{token.token_hash}", "sk": "TOKEN", "gsi1pk": "TOKENS",
                  "gsi1sk": token.token_id, "token_id": token.token_id,
                  "token_hash": token.token_hash, "user_id": token.user_id,
                  "scope": token.scope, "label": token.label, "created": token.created,
                  "last_used": token.last_used, "revoked": token.revoked}
        if not self._put(values, only_new=True):
            raise AlreadyExists("that token already exists")

    def token_by_hash(self, token_hash: str) -> ApiToken | None:
        row = self._get(f"TOKEN#{token_hash}", "TOKEN")
        return token_from(row) if row else None

    def get_token(self, token_id: str) -> ApiToken | None:
        rows = self._query("gsi1pk = :p AND gsi1sk = :id", {":p": "TOKENS", ":id": token_id},
                           index=GSI)
        row = next(rows, None)
        return token_from(row) if row else None

    def list_tokens(self, user_id: str | None = None) -> list[ApiToken]:
        tokens = [token_from(r) for r in self._query("gsi1pk = :p", {":p": "TOKENS"}, index=GSI)]
        chosen = [t for t in tokens if user_id is None or t.user_id == user_id]
        return sorted(chosen, key=lambda t: (t.user_id, t.created, t.token_id))

    def revoke_token(self, token_id: str) -> bool:
        token = self.get_token(token_id)
        if token is None:
            return False
        return self._update(
            f"TOKEN#{token.token_hash}", "TOKEN", UpdateExpression="SET revoked = :t",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues=to_item({":t": True}),
        ) is not None

    def touch_token(self, token: ApiToken, *, now_ms: int) -> None:
        self._update(
            f"TOKEN#{token.token_hash}", "TOKEN", UpdateExpression="SET last_used = :now",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues=to_item({":now": now_ms}),
        )

    # -- chats and invites --------------------------------------------------------------------

    def put_chat_link(self, link: ChatLink) -> None:
        self._put({"pk": f"CHAT#{link.chat_id}", "sk": "CHAT", "gsi1pk": f"USER#{link.user_id}",
                   "gsi1sk": f"CHAT#{link.chat_id}", "chat_id": link.chat_id,
                   "user_id": link.user_id, "linked_at": link.linked_at, "active": link.active,
                   "timezone": link.timezone, "quiet_hours": link.quiet_hours})

    def get_chat_link(self, chat_id: int) -> ChatLink | None:
        row = self._get(f"CHAT#{chat_id}", "CHAT")
        return link_from(row) if row else None

    def delete_chat_link(self, chat_id: int) -> bool:
        return self._delete(f"CHAT#{chat_id}", "CHAT")

    def chat_links_for_user(self, user_id: str) -> list[ChatLink]:
        rows = self._query("gsi1pk = :p AND begins_with(gsi1sk, :c)",
                           {":p": f"USER#{user_id}", ":c": "CHAT#"}, index=GSI)
        return sorted((link_from(r) for r in rows), key=lambda link: link.chat_id)

    def add_invite(self, invite: Invite) -> None:
        values = {"pk": f"INVITE#{invite.code}", "sk": "INVITE", "code": invite.code,
                  "user_id": invite.user_id, "created": invite.created,
                  "expires": invite.expires, "expires_at": invite.expires // 1000 + 86_400}
        if not self._put(values, only_new=True):
            raise AlreadyExists("that invite code already exists")

    def claim_invite(self, code: str, chat_id: int, *, now_ms: int) -> Invite | None:
        row = self._update(
            f"INVITE#{code}", "INVITE",
            UpdateExpression="SET used_by = :chat, used_at = :now",
            ConditionExpression="attribute_exists(pk) AND attribute_not_exists(used_by)"
                                " AND expires > :now",
            ExpressionAttributeValues=to_item({":chat": chat_id, ":now": now_ms}),
        )
        return invite_from(row) if row else None

    # -- Telegram updates ---------------------------------------------------------------------

    def claim_update(self, update_id: int, *, now_ms: int, lease_ms: int) -> bool:
        forget_s = (now_ms + UPDATE_MEMORY_MS) // 1000
        return self._update(
            f"UPDATE#{update_id}", "UPDATE",
            UpdateExpression="SET claimed_at = :now, done = :no, expires_at = :forget",
            # TTL deletion lags: an item past expires_at is forgotten already.
            ConditionExpression="attribute_not_exists(pk) OR expires_at <= :now_s"
                                " OR (done = :no AND claimed_at <= :abandoned)",
            ExpressionAttributeValues=to_item({
                ":now": now_ms, ":no": False, ":forget": forget_s, ":now_s": now_ms // 1000,
                ":abandoned": now_ms - lease_ms}),
        ) is not None

    def finish_update(self, update_id: int, *, now_ms: int) -> None:
        self._update(
            f"UPDATE#{update_id}", "UPDATE", UpdateExpression="SET done = :yes, expires_at = :f",
            ExpressionAttributeValues=to_item({":yes": True,
                                               ":f": (now_ms + UPDATE_MEMORY_MS) // 1000}),
        )

    # -- alert rules --------------------------------------------------------------------------

    def put_alert_rule(self, rule: AlertRule) -> None:
        check_sensor_id(rule.sensor)
        if not self._put(rule_values(rule), only_new=True):
            raise AlreadyExists(f"rule {rule.rule_id!r} already exists")

    def put_preset_rule(self, rule: AlertRule) -> bool:
        check_sensor_id(rule.sensor)
        if self._put(rule_values(rule), only_new=True):
            return True
        for _ in range(PRESET_TRIES):
            stored = self.get_alert_rule(rule.user_id, rule.rule_id)
            if stored is None:
                if self._put(rule_values(rule), only_new=True):
                    return True
                continue
            if stored.sensor == rule.sensor and dump_spec(stored.spec) == dump_spec(rule.spec):
                return False
            if self._replace_rule(rule, expected_version=stored.state.version):
                return True
        raise StorageUnavailable(f"rule {rule.rule_id!r} kept changing; try again")

    def _replace_rule(self, rule: AlertRule, *, expected_version: int) -> bool:
        """The rule's spec and a fresh state, if its version is still `expected_version`."""
        fields = ("sensor", "spec", "created", "status", "data")
        values = {key: value for key, value in rule_values(rule).items() if key in fields}
        sets = ", ".join(f"#{name} = :{name}" for name in fields)
        return self._update(
            f"USER#{rule.user_id}", f"RULE#{rule.rule_id}",
            UpdateExpression=f"SET {sets}, #version = :next",
            ConditionExpression="#version = :expected",
            ExpressionAttributeNames={f"#{name}": name for name in (*fields, "version")},
            ExpressionAttributeValues=to_item({
                **{f":{name}": value for name, value in values.items()},
                ":next": expected_version + 1, ":expected": expected_version}),
        ) is not None

    def list_alert_rules(self, user_id: str | None = None) -> list[AlertRule]:
        if user_id is None:
            rows = self._query("gsi1pk = :p", {":p": "RULES"}, index=GSI)
        else:
            rows = self._query("pk = :pk AND begins_with(sk, :sk)",
                               {":pk": f"USER#{user_id}", ":sk": "RULE#"})
        return sorted((rule_from(r) for r in rows), key=lambda r: (r.user_id, r.created, r.rule_id))

    def get_alert_rule(self, user_id: str, rule_id: str) -> AlertRule | None:
        row = self._get(f"USER#{user_id}", f"RULE#{rule_id}")
        return rule_from(row) if row else None

    def delete_alert_rule(self, user_id: str, rule_id: str) -> bool:
        return self._delete(f"USER#{user_id}", f"RULE#{rule_id}")

    def update_alert_state(
        self, user_id: str, rule_id: str, state: AlertState, *, expected_version: int
    ) -> AlertState | None:
        stored = replace(state, version=expected_version + 1)
        row = self._update(
            f"USER#{user_id}", f"RULE#{rule_id}",
            UpdateExpression="SET #status = :status, #version = :next, #data = :data",
            ConditionExpression="attribute_exists(pk) AND #version = :expected",
            ExpressionAttributeNames={"#status": "status", "#version": "version", "#data": "data"},
            ExpressionAttributeValues=to_item({
                ":status": stored.status.value, ":next": stored.version,
                ":data": dump_state(stored), ":expected": expected_version}),
        )
        return stored if row else None
