"""Request and response shapes, named after their schemas in openapi.yaml (a drift test compares them).

TypedDicts rather than classes: answers stay the plain dicts the seed tutorial indexes (``msg['data']``), and a
type checker still knows their keys. Optional keys live in a ``total=False`` subclass (works on Python 3.9).
"""
from typing import Any, Dict, List, Optional, TypedDict

# ---- errors -------------------------------------------------------------------------------------------------


class _ErrorBodyRequired(TypedDict):
    detail: str


class ErrorBody(_ErrorBodyRequired, total=False):
    code: str
    status: int


# ---- topics -------------------------------------------------------------------------------------------------


class CreateTopicOptions(TypedDict, total=False):
    partitions: int


class CreateTopicResponse(TypedDict):
    status: str
    topic: Dict[str, Any]


# ---- produce ------------------------------------------------------------------------------------------------


class ProduceBody(TypedDict, total=False):
    message: str
    value: Any
    encoding: str
    key: str
    headers: Dict[str, str]
    partition: int
    timestamp: int


class _ProduceResponseRequired(TypedDict):
    message_id: int


class ProduceResponse(_ProduceResponseRequired, total=False):
    partition: int


class ProduceBatchBody(TypedDict):
    messages: List[ProduceBody]


class _BatchItemResultRequired(TypedDict):
    status: int


class BatchItemResult(_BatchItemResultRequired, total=False):
    message_id: int
    partition: int
    detail: str


class _ProduceBatchResponseRequired(TypedDict):
    # null for a message that was not stored (its `results` entry says why)
    message_ids: List[Optional[int]]
    partition: int


class ProduceBatchResponse(_ProduceBatchResponseRequired, total=False):
    base_offset: int
    results: List[BatchItemResult]


# ---- consume (the seed's poll / ack) -------------------------------------------------------------------------


class _PolledMessageRequired(TypedDict):
    message_id: int
    data: Any


class PolledMessage(_PolledMessageRequired, total=False):
    """The seed's ``{"message_id", "data"}``; ``partition`` only on topics with several partitions."""

    partition: int


class AckResponse(TypedDict):
    status: str


class CursorResponse(TypedDict):
    consumer_id: str
    partition: int
    offset: int
    committed: bool
    log_start_offset: int
    log_end_offset: int
    lag: int
    reset_to_log_start: bool


# ---- consumer groups ----------------------------------------------------------------------------------------


class _GroupMessageRequired(TypedDict):
    message_id: int
    partition: int
    data: Any
    encoding: str
    timestamp: int
    lease_id: str
    lease_expires_at: int
    deliveries: int


class GroupMessage(_GroupMessageRequired, total=False):
    """A message leased to this worker: settle it with ack, nack or extend (by ``lease_id``)."""

    key: str
    headers: Dict[str, str]


class ReceiveResponse(TypedDict):
    messages: List[GroupMessage]


class LeaseIdsBody(TypedDict):
    lease_ids: List[str]


class _NackBodyRequired(TypedDict):
    lease_ids: List[str]


class NackBody(_NackBodyRequired, total=False):
    delay_ms: int


class ExtendBody(TypedDict):
    lease_ids: List[str]
    lease_ms: int


class _LeaseResultRequired(TypedDict):
    lease_id: str
    status: str  # acked, already_acked, ok, dead_lettered, lease_expired, invalid_lease


class LeaseResultResponse(_LeaseResultRequired, total=False):
    lease_expires_at: int


class LeaseResultsResponse(TypedDict):
    results: List[LeaseResultResponse]


class ConfigureGroupBody(TypedDict, total=False):
    max_deliveries: int
    per_key_ordering: bool
    dead_letter_topic: Optional[str]
    lease_ms: int


class GroupPartitionResponse(TypedDict):
    partition: int
    committed_offset: int
    end_offset: int
    lag: int
    in_flight: int
    pending: int
    dead_lettered: int


class GroupResponse(TypedDict):
    topic: str
    group: str
    max_deliveries: int
    per_key_ordering: bool
    dead_letter_topic: str
    lease_ms: int
    created_at: str
    partitions: List[GroupPartitionResponse]
