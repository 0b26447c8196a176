"""InitProducerId (key 22), versions 0-4: producer ids for idempotent producers.

Behavior (Kafka's TransactionCoordinator for what applies without transactions):
- transactional_id null (an idempotent producer): a new producer id with epoch 0, every time.
  Kafka does exactly this for a null transactional id, whatever producer id and epoch a v3+
  request carries: the KIP-360 epoch-bump rules belong to transactional ids (an idempotent
  Java producer bumps its epoch itself, librdkafka asks for a new id). Ids come from
  kafka/txn/producer_ids.py and never repeat, restarts included.
- v3+: a request giving exactly one of producer id / epoch (the other -1) is INVALID_REQUEST,
  checked first, as Kafka does.
- transactional_id "" : INVALID_REQUEST (Kafka's answer).
- any other transactional id: COORDINATOR_NOT_AVAILABLE, what Kafka answers while its
  transaction state (the `__transaction_state` topic) cannot be served. It is retriable, so a
  transactional client keeps retrying until its own timeout (Java's max.block.ms, librdkafka's
  init_transactions timeout) and then reports that no coordinator is available — which is the
  truth here until transactions land. TRANSACTIONAL_ID_AUTHORIZATION_FAILED would claim an ACL
  refused the id, and NOT_COORDINATOR would send the client to FindCoordinator in a loop.
- A failure to persist a new block of ids: UNKNOWN_SERVER_ERROR (Kafka's answer when its id
  manager fails).
Errors carry producer id -1 and epoch -1.
"""

from __future__ import annotations

import logging
from typing import Any

from keystream.kafka.apis.registry import RequestContext, api
from keystream.kafka.errors import ErrorCode

__all__ = ["handle_init_producer_id"]

log = logging.getLogger("keystream.kafka")


@api(22, 0, 4)
def handle_init_producer_id(ctx: RequestContext, request: Any) -> Any:
    """InitProducerId: allocate a producer id (idempotent producers only)."""
    error = ErrorCode.none
    pid, epoch = -1, -1
    given = (getattr(request, "producer_id", -1), getattr(request, "producer_epoch", -1))
    if (given[0] == -1) != (given[1] == -1):
        error = ErrorCode.invalid_request
    elif request.transactional_id is not None:
        error = ErrorCode.invalid_request if request.transactional_id == "" else ErrorCode.coordinator_not_available
    else:
        try:
            pid, epoch = ctx.broker.producer_ids.generate(), 0
        except (OSError, ValueError, KeyError):
            log.exception("could not allocate a producer id")
            error = ErrorCode.unknown_server_error
    return ctx.response("InitProducerIdResponse", throttle_time=0, error_code=error, producer_id=pid,
                        producer_epoch=epoch)
