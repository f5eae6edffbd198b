"""Every HTTP operation the client calls, as declared in openapi.yaml: method, path, the query parameters and
headers it sends, its request body and its answer. The client builds its requests only from these, and
tests/test_contract_drift.py checks each one against openapi.yaml, so the two cannot drift apart silently.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, Optional, Tuple, Type, TypeVar

from . import types as t


R = TypeVar("R")


@dataclass(frozen=True)
class Operation(Generic[R]):
    operation_id: str
    method: str
    path: str
    query: Tuple[str, ...] = ()
    headers: Tuple[str, ...] = ()
    #: The TypedDict sent as the JSON body (named after its schema), if any.
    body: Optional[type] = None
    #: The TypedDict of the success answer (named after its schema); its keys are what the client reads.
    response: Optional[Type[R]] = None


IDEMPOTENCY_KEY = "Idempotency-Key"

CREATE_TOPIC = Operation("createTopicByName", "POST", "/topics/{topic}/create", body=t.CreateTopicOptions, response=t.CreateTopicResponse)
PRODUCE = Operation("produceMessage", "POST", "/topics/{topic}/messages", headers=(IDEMPOTENCY_KEY,), body=t.ProduceBody, response=t.ProduceResponse)
PRODUCE_BATCH = Operation(
    "produceBatch", "POST", "/topics/{topic}/messages/batch", query=("partition",), headers=(IDEMPOTENCY_KEY,),
    body=t.ProduceBatchBody, response=t.ProduceBatchResponse,
)
POLL = Operation("pollMessage", "GET", "/topics/{topic}/messages", query=("consumer_id", "wait_ms", "partition"), response=t.PolledMessage)
ACK = Operation("ackMessage", "POST", "/topics/{topic}/messages/{message_id}/ack", query=("consumer_id", "partition"), response=t.AckResponse)
GET_CURSOR = Operation("getCursor", "GET", "/topics/{topic}/consumers/{consumer_id}", query=("partition",), response=t.CursorResponse)

CONFIGURE_GROUP = Operation("configureGroup", "PUT", "/topics/{topic}/groups/{group}", body=t.ConfigureGroupBody, response=t.GroupResponse)
GET_GROUP = Operation("getGroup", "GET", "/topics/{topic}/groups/{group}", response=t.GroupResponse)
RECEIVE = Operation(
    "receiveGroupMessages", "GET", "/topics/{topic}/groups/{group}/messages", query=("max", "wait_ms", "lease_ms", "partition"),
    response=t.ReceiveResponse,
)
GROUP_ACK = Operation("ackGroupMessages", "POST", "/topics/{topic}/groups/{group}/ack", body=t.LeaseIdsBody, response=t.LeaseResultsResponse)
GROUP_NACK = Operation("nackGroupMessages", "POST", "/topics/{topic}/groups/{group}/nack", body=t.NackBody, response=t.LeaseResultsResponse)
GROUP_EXTEND = Operation("extendGroupLeases", "POST", "/topics/{topic}/groups/{group}/extend", body=t.ExtendBody, response=t.LeaseResultsResponse)

OPERATIONS: Tuple[Operation[Any], ...] = (
    CREATE_TOPIC, PRODUCE, PRODUCE_BATCH, POLL, ACK, GET_CURSOR,
    CONFIGURE_GROUP, GET_GROUP, RECEIVE, GROUP_ACK, GROUP_NACK, GROUP_EXTEND,
)

#: The error body every error answer carries (the client reads ``detail`` and ``code``).
ERROR_SCHEMA = t.ErrorBody
