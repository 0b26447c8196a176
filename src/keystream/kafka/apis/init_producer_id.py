"""InitProducerId (key 22), versions 0-5: producer ids for idempotent and transactional producers.

Behavior (Kafka's TransactionCoordinator):
- transactional_id null (an idempotent producer): a new producer id with epoch 0, every time.
  Kafka does exactly this for a null transactional id, whatever producer id and epoch a v3+
  request carries: the KIP-360 epoch-bump rules belong to transactional ids (an idempotent
  Java producer bumps its epoch itself, librdkafka asks for a new id). Ids come from
  kafka/txn/producer_ids.py and never repeat, restarts included.
- v3+: a request giving exactly one of producer id / epoch (the other -1) is INVALID_REQUEST,
  checked first, as Kafka does.
- transactional_id "" : INVALID_REQUEST (Kafka's answer).
- any other transactional id: the transaction coordinator (kafka/txn/coordinator.py) bumps the
  id's epoch, fencing older instances, after aborting an Ongoing transaction of the previous
  epoch (then CONCURRENT_TRANSACTIONS, and the client retries); transaction_timeout_ms must be
  in 1..transaction.max.timeout.ms (INVALID_TRANSACTION_TIMEOUT); PRODUCER_FENCED (below v4:
  INVALID_PRODUCER_EPOCH) when a v3+ request names an epoch that is not the current one.
- A failure to persist a new block of ids: UNKNOWN_SERVER_ERROR (Kafka's answer when its id
  manager fails).
Errors carry producer id -1 and epoch -1.
Version notes: v2 flexible, v3 producer id/epoch in the request (KIP-360), v4 PRODUCER_FENCED,
v5 TRANSACTION_ABORTABLE (KIP-890; never needed here: no error of this API becomes it).
"""

from __future__ import annotations

import logging
from typing import Any

from keystream.kafka.apis.registry import RequestContext, api
from keystream.kafka.errors import ErrorCode

__all__ = ["handle_init_producer_id"]

log = logging.getLogger("keystream.kafka")


@api(22, 0, 5)
def handle_init_producer_id(ctx: RequestContext, request: Any) -> Any:
    """InitProducerId: a producer id and epoch (idempotent or transactional producers)."""
    error: int = ErrorCode.none
    pid, epoch = -1, -1
    given = (getattr(request, "producer_id", -1), getattr(request, "producer_epoch", -1))
    if (given[0] == -1) != (given[1] == -1) or request.transactional_id == "":
        error = ErrorCode.invalid_request
    elif request.transactional_id is not None:
        timeout = int(request.transaction_timeout.total_seconds() * 1000)
        try:
            error, pid, epoch = ctx.broker.txn.init_producer_id(request.transactional_id, timeout, given[0],
                                                                 given[1], ctx.version)
        except (OSError, ValueError, KeyError):
            log.exception("could not allocate a producer id")
            error = ErrorCode.unknown_server_error
    else:
        try:
            pid, epoch = ctx.broker.producer_ids.generate(), 0
        except (OSError, ValueError, KeyError):
            log.exception("could not allocate a producer id")
            error = ErrorCode.unknown_server_error
    return ctx.response("InitProducerIdResponse", throttle_time=0, error_code=ErrorCode(error), producer_id=pid,
                        producer_epoch=epoch)
