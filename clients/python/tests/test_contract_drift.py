"""The client's declared operations (mini_kafka/_contract.py) against the committed openapi.yaml: every method
and path exists with that operationId, every query parameter and header the client sends is declared, and every
field of the request bodies it sends and of the answers it reads is a property of the schema (the keys the client
relies on are required there). The client builds its requests only from these declarations."""
import copy
import dataclasses
import re
import typing
from pathlib import Path

import pytest
import yaml

from mini_kafka import _contract as contract
from mini_kafka import types as t

OPENAPI = Path(__file__).resolve().parents[3] / "openapi.yaml"
SOURCES = Path(contract.__file__).resolve().parent


@pytest.fixture(scope="module")
def spec():
    return yaml.safe_load(OPENAPI.read_text(encoding="utf8"))


def schema_problems(spec, typed_dict, ref, where):
    """Each key of the TypedDict must be a property of the schema; its required keys must be required there."""
    name = ref.rsplit("/", 1)[-1]
    if typed_dict.__name__ != name:
        return [f"{where}: the client's {typed_dict.__name__} stands for schema {name}"]
    schema = spec["components"]["schemas"][name]
    properties, required = schema.get("properties", {}), set(schema.get("required", []))
    problems = []
    hints = typing.get_type_hints(typed_dict)
    for key in hints:
        if key not in properties:
            problems.append(f"{where}: {name} has no property '{key}'")
            continue
        if key in typed_dict.__required_keys__ and key not in required and where.startswith("answer"):
            problems.append(f"{where}: the client relies on {name}.{key}, which openapi.yaml does not require")
        problems += nested_problems(spec, hints[key], properties[key], f"{where}.{key}")
    return problems


def nested_problems(spec, hint, prop, where):
    if typing.get_origin(hint) in (list, typing.List) and "items" in prop:
        return nested_problems(spec, typing.get_args(hint)[0], prop["items"], where + "[]")
    if typing.is_typeddict(hint):
        if "$ref" not in prop:
            return [f"{where}: a {hint.__name__} in the client, not a schema reference in openapi.yaml"]
        return schema_problems(spec, hint, prop["$ref"], where)
    return []


def operation_problems(spec, op):
    path_item = spec["paths"].get(op.path)
    if path_item is None:
        return [f"{op.operation_id}: no path {op.path} in openapi.yaml"]
    operation = path_item.get(op.method.lower())
    if operation is None:
        return [f"{op.operation_id}: no {op.method} {op.path} in openapi.yaml"]
    problems = []
    if operation.get("operationId") != op.operation_id:
        problems.append(f"{op.method} {op.path} is operationId {operation.get('operationId')}, not {op.operation_id}")
    params = {(p["in"], p["name"].lower()) for p in operation.get("parameters", [])}
    for name in re.findall(r"{(\w+)}", op.path):
        if ("path", name) not in params:
            problems.append(f"{op.operation_id}: path parameter {name} is not declared")
    for name in op.query:
        if ("query", name) not in params:
            problems.append(f"{op.operation_id}: query parameter {name} is not declared")
    for name in op.headers:
        if ("header", name.lower()) not in params:
            problems.append(f"{op.operation_id}: header {name} is not declared")
    if op.body is not None:
        body = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
        if "$ref" not in body:
            problems.append(f"{op.operation_id}: no JSON request body in openapi.yaml")
        else:
            problems += schema_problems(spec, op.body, body["$ref"], f"request {op.operation_id}")
    if op.response is not None:
        ok = next((r for s, r in operation["responses"].items() if str(s) in ("200", "201")), None)
        answer = (ok or {}).get("content", {}).get("application/json", {}).get("schema", {})
        if "$ref" not in answer:
            problems.append(f"{op.operation_id}: no JSON 200/201 answer in openapi.yaml")
        else:
            problems += schema_problems(spec, op.response, answer["$ref"], f"answer {op.operation_id}")
    return problems


def test_every_operation_matches_openapi_yaml(spec):
    problems = [p for op in contract.OPERATIONS for p in operation_problems(spec, op)]
    assert not problems, "the client and openapi.yaml differ:\n" + "\n".join(problems)


def test_the_error_body_matches(spec):
    problems = schema_problems(spec, contract.ERROR_SCHEMA, "#/components/schemas/ErrorBody", "answer error")
    assert not problems, "\n".join(problems)


def test_every_declared_operation_is_listed():
    declared = {v for v in vars(contract).values() if isinstance(v, contract.Operation)}
    assert declared == set(contract.OPERATIONS)


def test_the_client_builds_no_url_outside_the_contract():
    for source in ["_core.py", "sync.py", "aio.py"]:
        text = (SOURCES / source).read_text(encoding="utf8")
        assert not re.search(r"[\"']/topics", text), f"{source} spells a route itself: declare it in _contract.py"


# The checker must be able to fail: each kind of drift is caught.
def _broken(op, **changes):
    return dataclasses.replace(op, **changes)


class PolledMessage(t.PolledMessage, total=False):
    offset_typo: int


@pytest.mark.parametrize(
    "op, expected",
    [
        (_broken(contract.POLL, path="/topics/{topic}/message"), "no path /topics/{topic}/message"),
        (_broken(contract.ACK, method="PUT"), "no PUT"),
        (_broken(contract.POLL, operation_id="poll"), "operationId pollMessage"),
        (_broken(contract.RECEIVE, query=("max", "waitMs")), "query parameter waitMs"),
        (_broken(contract.PRODUCE, headers=("Idempotency-Token",)), "header Idempotency-Token"),
        (_broken(contract.POLL, response=PolledMessage), "PolledMessage has no property 'offset_typo'"),
        (_broken(contract.GROUP_ACK, body=t.NackBody), "stands for schema LeaseIdsBody"),
    ],
)
def test_the_checker_catches_drift(spec, op, expected):
    assert any(expected in p for p in operation_problems(spec, op)), operation_problems(spec, op)


def test_the_checker_catches_a_renamed_or_optional_field(spec):
    changed = copy.deepcopy(spec)
    changed["components"]["schemas"]["GroupMessage"]["properties"].pop("lease_id", None)
    changed["components"]["schemas"]["ProduceResponse"]["required"] = []
    problems = operation_problems(changed, contract.RECEIVE) + operation_problems(changed, contract.PRODUCE)
    assert "answer receiveGroupMessages.messages[]: GroupMessage has no property 'lease_id'" in problems
    assert any("relies on ProduceResponse.message_id" in p for p in problems), problems
