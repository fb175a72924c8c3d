"""The withdrawal hook: other apps register a handler; every withdrawal calls them all.

An explicit registry rather than a Django signal, so it is obvious what runs:
photos narrow a photo's uses and queue deletions, social drops posts back for
review and opens takedowns. Handlers run inside the withdrawal's transaction,
so the withdrawal and its effects commit together.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from consents.models import ConsentRecord


@dataclass(frozen=True)
class Withdrawal:
    record_id: int
    child_id: int
    carer_id: int
    purposes: frozenset[str]


WithdrawalHandler = Callable[[Withdrawal], None]
_handlers: list[WithdrawalHandler] = []


def register_withdrawal_handler(handler: WithdrawalHandler) -> WithdrawalHandler:
    """Register `handler` once (usable as a decorator, typically from an AppConfig.ready)."""
    if handler not in _handlers:
        _handlers.append(handler)
    return handler


def unregister_withdrawal_handler(handler: WithdrawalHandler) -> None:
    if handler in _handlers:
        _handlers.remove(handler)


def run_withdrawal_handlers(record: ConsentRecord) -> None:
    """Call every registered handler. Precondition: inside the withdrawal's transaction."""
    withdrawal = Withdrawal(
        record_id=record.pk,
        child_id=record.child_id,
        carer_id=record.carer_id,
        purposes=frozenset(purpose for purpose, answer in record.answers.items() if not answer),
    )
    for handler in list(_handlers):
        handler(withdrawal)
