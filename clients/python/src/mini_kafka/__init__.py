"""Python client for mini-kafka.

Blocking: ``Producer`` / ``Consumer`` (the seed tutorial's classes and methods) and ``GroupWorker``.
asyncio: ``AsyncProducer`` / ``AsyncConsumer`` / ``AsyncGroupWorker``, the same over httpx.AsyncClient.
"""
from ._core import Message, RetryEvent, RetryPolicy
from .aio import AsyncConsumer, AsyncGroupWorker, AsyncProducer
from .errors import BatchPartlyRejected, BrokerError, BrokerUnreachable, MiniKafkaError
from .sync import Consumer, GroupWorker, Producer
from .types import (
    CursorResponse, GroupMessage, GroupResponse, LeaseResultResponse, PolledMessage, ProduceBatchResponse, ProduceResponse,
)

__version__ = "0.1.0"

__all__ = [
    "AsyncConsumer", "AsyncGroupWorker", "AsyncProducer", "BatchPartlyRejected", "BrokerError", "BrokerUnreachable",
    "Consumer", "CursorResponse", "GroupMessage", "GroupResponse", "GroupWorker", "LeaseResultResponse", "Message",
    "MiniKafkaError", "PolledMessage", "ProduceBatchResponse", "ProduceResponse", "Producer", "RetryEvent", "RetryPolicy",
]
