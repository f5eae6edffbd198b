"""Exceptions: a broker's error answer (status + its JSON ``detail`` and ``code``), or no answer at all."""
from __future__ import annotations

from typing import Any, List, Optional

import httpx

from .types import BatchItemResult


class MiniKafkaError(Exception):
    """Base class of every error this client raises."""


class BrokerError(MiniKafkaError):
    """The broker answered with an error status. ``detail`` and ``code`` come from its JSON body."""

    def __init__(self, status: int, detail: str, code: Optional[str] = None, body: Any = None, method: str = "", url: str = ""):
        self.status = status
        self.detail = detail
        self.code = code
        self.body = body
        self.method = method
        self.url = url
        where = f" ({method} {url})" if method else ""
        super().__init__(f"{status} {code or 'ERROR'}: {detail}{where}")


class BatchPartlyRejected(BrokerError):
    """A batch answered 207: the valid messages are stored (``message_ids``), ``results`` says which were not."""

    def __init__(self, message_ids: List[Optional[int]], results: List[BatchItemResult]):
        self.message_ids = message_ids
        self.results = results
        rejected = [r for r in results if r.get("status") != 200]
        first = rejected[0].get("detail", "invalid") if rejected else "invalid"
        super().__init__(207, f"{len(rejected)} of {len(results)} messages rejected: {first}", "BATCH_PARTLY_REJECTED")


class BrokerUnreachable(MiniKafkaError):
    """No answer from the broker (connection refused, reset, timed out), after every retry."""

    def __init__(self, method: str, url: str, attempts: int, cause: httpx.TransportError):
        self.method = method
        self.url = url
        self.attempts = attempts
        super().__init__(f"{method} {url}: no answer after {attempts} attempt(s): {type(cause).__name__}: {cause}")


def error_from_response(response: httpx.Response) -> BrokerError:
    """The broker's error shape is ``{"detail", "code", "status"}``; anything else keeps the status and reason."""
    body: Any = None
    try:
        body = response.json()
    except ValueError:
        pass
    detail = body.get("detail") if isinstance(body, dict) else None
    code = body.get("code") if isinstance(body, dict) else None
    if not isinstance(detail, str):
        detail = response.reason_phrase or response.text[:200] or "request failed"
    return BrokerError(
        response.status_code,
        detail,
        code if isinstance(code, str) else None,
        body,
        response.request.method,
        str(response.request.url.copy_with(query=None)),
    )
