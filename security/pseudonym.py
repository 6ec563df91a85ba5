"""Keyed pseudonyms for personal identifiers: one person matched across regions without the clear ID."""

from __future__ import annotations

import hashlib
import hmac
import unicodedata
from functools import cache

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class PseudonymSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OVERSIGHT_", extra="ignore")

    payee_hash_key: SecretStr = Field(
        default=SecretStr("fiscal-oversight-demo-key"),
        description="Secret key of the keyed hash (HMAC-SHA256) that resolves payees by ID number. "
        "Set a real secret in production; changing it changes every person's payee key (reload to apply).",
    )


@cache
def _key() -> bytes:
    return PseudonymSettings().payee_hash_key.get_secret_value().encode()


def id_hash(iden_no: str) -> str:
    """The keyed hash of an ID number (upper-cased, so a trailing ``x`` matches ``X``)."""
    return hmac.new(_key(), iden_no.strip().upper().encode(), hashlib.sha256).hexdigest()[:32]


def normalise_name(name: str) -> str:
    """NFKC (full-width → half-width), no white space, upper-case Latin letters."""
    return "".join(unicodedata.normalize("NFKC", name).split()).upper()


def payee_key(uscc: str | None, iden_no: str | None, name: str, account_no: str | None) -> str:
    """Resolve a payee: by credit code, else by keyed ID hash, else by normalised name plus account number."""
    if uscc:
        return "uscc:" + uscc.strip().upper()
    if iden_no:
        return "id:" + id_hash(iden_no)
    digest = hashlib.blake2b(f"{normalise_name(name)}|{(account_no or '').strip()}".encode(), digest_size=16)
    return "name:" + digest.hexdigest()
