"""The issuer's public signing keys (a JWKS), read from a file or one configured URL, cached per process.

Keys are looked up by ``kid``. The set is read again when it is older than its time to live, or when a token
names a ``kid`` the set does not hold (the issuer may have rotated); every read, for whatever reason, waits
for the cooldown since the previous attempt, so a stream of tokens with made-up ``kid`` values costs the
issuer at most one request per cooldown. A failed read keeps the keys already held.

Only keys of the configured algorithm's family are kept (EC P-256 for ES256, RSA of at least 2048 bits for
RS256), as public keys: a symmetric (``oct``) key in the set is never used, so no token can be checked with
an HMAC keyed by published material.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, RSAKey

log = logging.getLogger(__name__)

MAX_JWKS_BYTES = 256 * 1024
FETCH_TIMEOUT = httpx.Timeout(5.0, connect=3.0)
_PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}

PublicKey = ECKey | RSAKey


class JWKSError(Exception):
    """The key set could not be read or holds no usable key."""


def parse_jwks(data: bytes, algorithm: str) -> dict[str, PublicKey]:
    """The usable public keys of a JWKS document, by ``kid``."""
    try:
        document = json.loads(data)
    except ValueError as error:
        raise JWKSError("the key set is not JSON") from error
    entries = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise JWKSError("the key set has no 'keys' list")
    keys: dict[str, PublicKey] = {}
    for entry in entries:
        key = _usable_key(entry, algorithm)
        if key is not None and key.kid is not None:
            keys.setdefault(key.kid, key)
    if not keys:
        raise JWKSError(f"the key set holds no usable {algorithm} key with a kid")
    return keys


def _usable_key(entry: Any, algorithm: str) -> PublicKey | None:
    if not isinstance(entry, dict) or not isinstance(entry.get("kid"), str) or not entry["kid"]:
        return None
    if entry.get("use", "sig") != "sig" or entry.get("alg", algorithm) != algorithm:
        return None
    public = {name: value for name, value in entry.items() if name not in _PRIVATE_MEMBERS}
    try:
        if algorithm == "ES256" and entry.get("kty") == "EC" and entry.get("crv") == "P-256":
            return ECKey.import_key(public)
        if algorithm == "RS256" and entry.get("kty") == "RSA":
            rsa = RSAKey.import_key(public)
            return rsa if rsa.public_key.key_size >= 2048 else None
    except (JoseError, ValueError, TypeError) as error:
        log.warning("JWKS: key %r skipped: %s", entry.get("kid"), error)
    return None


class KeyCache:
    """Thread-safe: readers take no lock; one thread at a time reads the set again."""

    def __init__(
        self,
        *,
        algorithm: str,
        url: str | None,
        path: Path,
        ttl_seconds: float,
        cooldown_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.algorithm = algorithm
        self.url = url
        self.path = path
        self.ttl = ttl_seconds
        self.cooldown = cooldown_seconds
        self.clock = clock
        self._keys: dict[str, PublicKey] = {}
        self._loaded_at: float | None = None
        self._attempted_at: float | None = None
        self._lock = threading.Lock()
        self._client: httpx.Client | None = None  # made on the first fetch, under the lock

    def get(self, kid: str) -> PublicKey | None:
        """The key named ``kid``; the set is read again when stale or without ``kid`` (cooldown allowing)."""
        if self._stale():
            # With keys in hand a reader never waits for another thread's read: it uses what is held.
            self._refresh(lambda: self._stale(), wait=not self._keys)
        key = self._keys.get(kid)
        if key is None:
            self._refresh(lambda: kid not in self._keys, wait=True)
            key = self._keys.get(kid)
        return key

    @property
    def loaded(self) -> bool:
        """Some key set has been read."""
        return self._loaded_at is not None

    def _stale(self) -> bool:
        return self._loaded_at is None or self.clock() - self._loaded_at >= self.ttl

    def _refresh(self, still_needed: Callable[[], bool], *, wait: bool) -> None:
        if not self._lock.acquire(blocking=wait):
            return
        try:
            now = self.clock()
            if not still_needed():  # another thread read the set meanwhile
                return
            if self._attempted_at is not None and now - self._attempted_at < self.cooldown:
                return
            self._attempted_at = now
            try:
                keys = parse_jwks(self._read(), self.algorithm)
            except JWKSError as error:
                log.warning("JWKS from %s not read: %s", self.url or self.path, error)
                return
            self._keys = keys
            self._loaded_at = now
        finally:
            self._lock.release()

    def _read(self) -> bytes:
        if self.url is None:
            try:
                data = self.path.read_bytes()
            except OSError as error:
                raise JWKSError(f"cannot read {self.path}: {error.strerror}") from error
            if len(data) > MAX_JWKS_BYTES:
                raise JWKSError("the key set is too large")
            return data
        # The configured URL is the only place keys ever come from: no redirects, no URL from a token.
        if self._client is None:
            self._client = httpx.Client(timeout=FETCH_TIMEOUT, follow_redirects=False)
        try:
            with self._client.stream("GET", self.url, headers={"Accept": "application/json"}) as response:
                if response.status_code != 200:
                    raise JWKSError(f"HTTP {response.status_code}")
                body = b""
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > MAX_JWKS_BYTES:
                        raise JWKSError("the key set is too large")
                return body
        except httpx.HTTPError as error:
            raise JWKSError(f"{type(error).__name__}: {error}") from error
