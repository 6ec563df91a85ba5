"""A channel that delivers into memory, scripted to fail: for the dispatcher's tests and the demo only.

::

    [channels.test]
    type = "fake"
    fail = 2            # the first 2 attempts of each message answer retry, the third delivers
    outcome = "failed"  # or "gone": every message always answers that instead
    delay_ms = 50       # sleep per batch, to let tests see a batch in flight

What it delivered is in :attr:`FakeChannel.sent` under the channel's name, duplicates included, so a test
can check at-least-once delivery; :meth:`FakeChannel.reset` empties it between tests. The registry is
process-wide: a dispatcher builds its own channel objects from the configuration, and the test reads what
they delivered. It must never be configured in production: nothing leaves the process.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any, ClassVar

from connectors.channels import settings
from connectors.channels.base import DELIVERED, Channel, ChannelConfigError, Message, Outcome, Result

KEYS = frozenset({"fail", "outcome", "delay_ms"})
OUTCOMES = {"failed": Result.failed, "gone": Result.gone}


class FakeChannel(Channel):
    """Scripted, in-memory; thread-safe, as dispatcher tests may run several dispatchers at once."""

    kind = "fake"
    sent: ClassVar[dict[str, list[Message]]] = {}
    attempts: ClassVar[dict[tuple[str, str], int]] = {}  # (channel, message id) → deliver attempts so far
    batches: ClassVar[dict[str, list[int]]] = {}  # channel → the size of each batch it was given
    _lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, name: str, fail: int = 0, outcome: Result | None = None, delay_ms: int = 0) -> None:
        super().__init__(name)
        self.fail = fail
        self.outcome = outcome
        self.delay_ms = delay_ms

    @classmethod
    def from_config(cls, name: str, cfg: dict[str, Any]) -> FakeChannel:
        settings.check_keys(cfg, KEYS, cls.kind)
        fail = settings.whole(cfg, "fail", 0, 0, 1000)
        delay = settings.whole(cfg, "delay_ms", 0, 0, 60_000)
        outcome = cfg.get("outcome")
        if outcome is not None and outcome not in OUTCOMES:
            raise ChannelConfigError(f"outcome: one of {', '.join(OUTCOMES)}")
        return cls(name, fail or 0, OUTCOMES[outcome] if outcome else None, delay or 0)

    @classmethod
    def reset(cls) -> None:
        """Forget every delivery and attempt (call it between tests)."""
        with cls._lock:
            cls.sent.clear()
            cls.attempts.clear()
            cls.batches.clear()

    def describe(self) -> str:
        return f"fake {self.name} (in memory, tests only)"

    def deliver(self, messages: Sequence[Message]) -> list[Outcome]:
        if self.delay_ms:
            time.sleep(self.delay_ms / 1000)
        with self._lock:
            self.batches.setdefault(self.name, []).append(len(messages))
            return [self._one(m) for m in messages]

    def _one(self, message: Message) -> Outcome:
        key = (self.name, message.id)
        attempt = self.attempts[key] = self.attempts.get(key, 0) + 1
        if self.outcome is not None:
            return Outcome(self.outcome, f"fake: scripted {self.outcome.value}")
        if attempt <= self.fail:
            return Outcome(Result.retry, f"fake: scripted failure {attempt} of {self.fail}")
        self.sent.setdefault(self.name, []).append(message)
        return DELIVERED
