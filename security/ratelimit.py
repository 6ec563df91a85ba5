"""Rate limits: one budget per principal, in tiers per body, shared by every API process through Redis.

Configured through slowapi's ``Limiter`` (storage and strategy from the ``limits`` library: memory by
default, Redis with ``OVERSIGHT_RATELIMIT_STORAGE=redis://…`` so that several processes share one
budget). The budget is charged by the API's guard for every request before routing (docs/adr/0010):
slowapi's own route decorators and per-route middleware check miss routes that recent FastAPI includes
through ``include_router`` (slowapi issue #281) and cannot charge a GraphQL operation by its cost.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from limits import RateLimitItem, parse
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from slowapi import Limiter

from security.principal import Body


class RateLimitSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OVERSIGHT_RATELIMIT_", extra="ignore")

    enabled: bool = Field(default=True, description="Apply the rate limits (`false` only for benchmarks).")
    storage: str = Field(
        default="memory://",
        description="Where the counters live: `memory://` (per process) or `redis://host:6379/0` (shared).",
    )
    strategy: str = Field(default="fixed-window", description="`fixed-window` or `moving-window`.")
    congress: str = Field(default="600/minute", description="Requests per principal of a people's congress.")
    audit: str = Field(default="600/minute", description="Requests per principal of an audit office.")
    discipline: str = Field(default="600/minute", description="Requests per principal of 纪检监察.")
    finance: str = Field(default="600/minute", description="Requests per principal of a finance bureau.")
    admin: str = Field(default="120/minute", description="Requests per principal who runs the service.")
    audit_admin: str = Field(default="120/minute", description="Requests per audit-log reader.")
    anonymous: str = Field(default="120/minute", description="Requests per client address without a token.")
    graphql_cost_unit: int = Field(
        default=1000, ge=1, description="A GraphQL operation is charged one request more per this much cost."
    )
    reveal_quota: str = Field(
        default="200/day", description="Requests revealing personal data per principal (with a reason)."
    )


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset_in: int  # seconds until the window resets

    def headers(self) -> list[tuple[bytes, bytes]]:
        out = [
            (b"ratelimit-limit", str(self.limit).encode()),
            (b"ratelimit-remaining", str(self.remaining).encode()),
            (b"ratelimit-reset", str(self.reset_in).encode()),
        ]
        if not self.allowed:
            out.append((b"retry-after", str(self.reset_in).encode()))
        return out


class RateLimits:
    def __init__(self, settings: RateLimitSettings | None = None) -> None:
        self.settings = settings or RateLimitSettings()
        s = self.settings
        self._limiter = Limiter(
            key_func=lambda *_: "", storage_uri=s.storage, strategy=s.strategy, enabled=s.enabled
        )
        self.tiers: dict[Body | None, RateLimitItem] = {body: parse(getattr(s, body.value)) for body in Body}
        self.tiers[None] = parse(s.anonymous)
        self.reveal_item = parse(s.reveal_quota)

    @property
    def enabled(self) -> bool:
        return self.settings.enabled

    def charge(self, key: str, body: Body | None, cost: int = 1) -> Decision:
        """Take ``cost`` requests from the budget of ``key`` (a principal, or an address)."""
        return self._take(self.tiers[body], "requests", key, cost)

    def reveal(self, key: str) -> Decision:
        """Take one reveal of personal data from the quota of ``key``."""
        return self._take(self.reveal_item, "reveals", key, 1)

    def _take(self, item: RateLimitItem, namespace: str, key: str, cost: int) -> Decision:
        strategy = self._limiter.limiter
        allowed = strategy.hit(item, namespace, key, cost=cost)
        stats = strategy.get_window_stats(item, namespace, key)
        reset_in = max(0, int(stats.reset_time - time.time() + 0.999))
        return Decision(allowed, item.amount, max(0, stats.remaining), reset_in)

    def reset(self) -> None:
        self._limiter.reset()
