"""OAuth2 bearer tokens: a signed JWT from the issuer names the caller (:class:`Principal`).

:class:`TokenVerifier` checks a token against the issuer's published keys (``security/jwks.py``) and the
claims this service relies on; :class:`TokenError` says why a token was refused, in words safe to show the
caller. ``init_keys`` and ``mint`` are the local demo issuer: a key pair in a folder and tokens signed with
it, so the API can be tried without an identity provider. Production points ``OVERSIGHT_AUTH_JWKS_URL`` at
the real issuer and has no local key (docs/security.md, "Tokens").
"""

from __future__ import annotations

import base64
import json
import math
import os
import re
import secrets
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from joserfc import jwt
from joserfc.errors import (
    BadSignatureError,
    ClaimError,
    ExpiredTokenError,
    InvalidPayloadError,
    JoseError,
    MissingClaimError,
)
from joserfc.jwk import ECKey, KeyParameters, RSAKey
from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from security.jwks import KeyCache, PublicKey
from security.principal import Body, Principal

LOCAL_ISSUER = "oversight-local"
JWKS_FILE = "jwks.json"
SIGNING_KEY_FILE = "signing-key.jwk"
MAX_TOKEN_BYTES = 8 * 1024
# A body that may hold a token without a region: its principal sees every region (region None).
WHOLE_DATASET_BODIES = frozenset({Body.admin, Body.audit_admin})

Algorithm = Literal["ES256", "RS256"]


class AuthSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OVERSIGHT_AUTH_", extra="ignore")

    issuer: str = Field(
        default=LOCAL_ISSUER,
        min_length=1,
        description="The issuer a token's `iss` must name exactly. The default is the local demo issuer "
        "(`oversight token`); production names the real identity provider.",
    )
    audience: str = Field(
        default="fiscal-oversight",
        min_length=1,
        description="The audience a token's `aud` must name (or hold, when it is a list).",
    )
    jwks_url: str | None = Field(
        default=None,
        description="URL of the issuer's JWKS (https; http only on localhost). The only address this "
        "service ever fetches keys from; when unset, keys are read from the JWKS file.",
    )
    jwks_file: Path | None = Field(
        default=None,
        description="JWKS file to read keys from when no URL is set (default: `jwks.json` in the keys "
        "folder, as `oversight keys init` writes it).",
    )
    algorithm: Algorithm = Field(
        default="ES256",
        description="The one signature algorithm accepted, `ES256` (EC P-256) or `RS256` (RSA ≥ 2048 bits); "
        "tokens with any other `alg` are refused, and `oversight keys init` makes a key of this family.",
    )
    leeway_seconds: int = Field(
        default=30,
        ge=0,
        le=300,
        description="Clock skew allowed on `exp`, `nbf` and `iat`, in seconds (at most 300).",
    )
    jwks_ttl_seconds: int = Field(
        default=300,
        ge=1,
        le=86400,
        description="How long the key set is used before it is read again, in seconds.",
    )
    jwks_refresh_cooldown_seconds: int = Field(
        default=30,
        ge=1,
        le=3600,
        description="Least time between two reads of the key set, in seconds; bounds the reads that tokens "
        "with unknown key ids can cause.",
    )
    keys_dir: Path = Field(
        default=Path(".oversight-keys"),
        description="Folder of the local demo issuer's key (`oversight keys init`, `oversight token`); "
        "never used in production.",
    )

    @field_validator("jwks_url")
    @classmethod
    def _https_url(cls, url: str | None) -> str | None:
        if url is None:
            return None
        parts = urlsplit(url)
        loopback = parts.hostname in {"localhost", "127.0.0.1", "::1"}
        if not parts.hostname or not (parts.scheme == "https" or (parts.scheme == "http" and loopback)):
            raise ValueError("jwks_url must be an https URL (http only on localhost)")
        return url

    @model_validator(mode="after")
    def _one_key_source(self) -> AuthSettings:
        if self.jwks_url and self.jwks_file:
            raise ValueError("set jwks_url or jwks_file, not both")
        if self.jwks_url and self.issuer == LOCAL_ISSUER:
            raise ValueError("jwks_url is set: set issuer to the issuer that publishes it")
        return self

    @property
    def jwks_path(self) -> Path:
        return self.jwks_file or self.keys_dir / JWKS_FILE


class TokenError(Exception):
    """A refused token. The message names what is wrong and is safe to return to the caller."""


class TokenVerifier:
    """Checks bearer tokens. Thread-safe; make one per process (it caches the issuer's keys)."""

    def __init__(self, settings: AuthSettings | None = None, *, clock: Callable[[], float] = time.monotonic):
        self.settings = settings or AuthSettings()
        self.keys = KeyCache(
            algorithm=self.settings.algorithm,
            url=self.settings.jwks_url,
            path=self.settings.jwks_path,
            ttl_seconds=self.settings.jwks_ttl_seconds,
            cooldown_seconds=self.settings.jwks_refresh_cooldown_seconds,
            clock=clock,
        )
        self._claims = jwt.JWTClaimsRegistry(
            leeway=self.settings.leeway_seconds,
            iss={"essential": True, "value": self.settings.issuer},
            aud={"essential": True, "value": self.settings.audience},
            exp={"essential": True},
            sub={"essential": True},
        )

    def verify(self, token: str) -> Principal:
        """The caller the token names, or :class:`TokenError` with the reason it is refused."""
        header = check_header(token, self.settings.algorithm)
        key = self._key(header["kid"])
        try:
            decoded = jwt.decode(token, key, algorithms=[self.settings.algorithm], decoder_cls=_StrictJSON)
        except BadSignatureError as error:
            raise TokenError("bad signature") from error
        except InvalidPayloadError as error:
            if isinstance(error.__cause__, _JSONRefused):
                raise TokenError(f"payload {error.__cause__}") from error
            raise TokenError("payload is not a JSON object") from error
        except JoseError as error:
            raise TokenError("malformed token") from error
        try:
            self._claims.validate(decoded.claims)
        except ClaimError as error:
            raise TokenError(_claim_reason(error, decoded.claims)) from error
        return principal_from_claims(decoded.claims)

    def _key(self, kid: str) -> PublicKey:
        key = self.keys.get(kid)
        if key is None:
            raise TokenError("unknown key id" if self.keys.loaded else "the issuer's keys are unavailable")
        return key


_SEGMENT = re.compile(r"[A-Za-z0-9_-]+")
_SAFE_WORD = re.compile(r"[A-Za-z0-9#+._-]{1,24}")
_TYPES = {"jwt", "at+jwt", "application/jwt", "application/at+jwt"}
_ACCEPTED_HEADERS = {"alg", "kid", "typ", "x5t", "x5t#S256"}
_REFUSED_HEADERS = {
    "jwk": "an embedded jwk header is not accepted",
    "jku": "a jku header is not accepted (keys are never fetched from a token)",
    "x5u": "an x5u header is not accepted (keys are never fetched from a token)",
    "x5c": "an embedded x5c certificate chain is not accepted",
    "crit": "a crit header is not accepted",
    "b64": "an unencoded payload (b64 header) is not accepted",
}


def check_header(token: str, algorithm: str) -> dict[str, Any]:
    """The token's shape and header, checked before any key is looked up."""
    if not isinstance(token, str):
        raise TokenError("token must be a string")
    if len(token) > MAX_TOKEN_BYTES:
        raise TokenError(f"token too large (more than {MAX_TOKEN_BYTES} bytes)")
    parts = token.split(".")
    if len(parts) != 3:
        raise TokenError("malformed token: not three dot-separated parts (a signed JWT)")
    if not _SEGMENT.fullmatch(parts[0]):
        raise TokenError("malformed token: the header is empty or not base64url")
    try:
        header = json.loads(_b64decode(parts[0]), cls=_StrictJSON)
    except _JSONRefused as error:
        raise TokenError(f"header {error}") from error
    except ValueError as error:
        raise TokenError("malformed token: the header is not base64url-encoded JSON") from error
    if not isinstance(header, dict):
        raise TokenError("malformed token: the header is not a JSON object")
    alg = header.get("alg")
    if not isinstance(alg, str):
        raise TokenError("header has no algorithm (alg)")
    if alg.lower() == "none":
        raise TokenError("algorithm none is not accepted")
    if alg != algorithm:
        named = alg if _SAFE_WORD.fullmatch(alg) else "of this token"
        raise TokenError(f"algorithm {named} is not accepted (only {algorithm})")
    for name in header:
        if name in _REFUSED_HEADERS:
            raise TokenError(_REFUSED_HEADERS[name])
        if name not in _ACCEPTED_HEADERS:
            named = name if _SAFE_WORD.fullmatch(name) else "of this token"
            raise TokenError(f"header {named} is not accepted")
    typ = header.get("typ")
    if typ is not None and (not isinstance(typ, str) or typ.lower() not in _TYPES):
        raise TokenError("header typ must be JWT or at+jwt")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise TokenError("header has no key id (kid)")
    # After the header, so that "alg": "none" with its empty signature is refused as what it is.
    if not all(_SEGMENT.fullmatch(part) for part in parts[1:]):
        raise TokenError("malformed token: the payload or signature is empty or not base64url")
    return header


def _b64decode(segment: str) -> bytes:
    if len(segment) % 4 == 1:
        raise ValueError("impossible base64 length")
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


class _JSONRefused(ValueError):
    """JSON that parses, but ambiguously (a repeated member) or outside JSON (NaN, Infinity)."""


def _members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    members: dict[str, Any] = {}
    for name, value in pairs:
        if name in members:
            named = name if _SAFE_WORD.fullmatch(name) else "of this token"
            raise _JSONRefused(f"repeats member {named}")
        members[name] = value
    return members


def _no_constant(name: str) -> Any:
    raise _JSONRefused(f"holds {name}, which is not JSON")


class _StrictJSON(json.JSONDecoder):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(object_pairs_hook=_members, parse_constant=_no_constant)


def _claim_reason(error: ClaimError, claims: Mapping[str, Any]) -> str:
    claim = error.claim
    if isinstance(error, ExpiredTokenError):
        return "token expired"
    if isinstance(error, MissingClaimError):
        return f"missing claim: {claim.replace(',', ', ')}"
    value = claims.get(claim)
    finite = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if claim in {"exp", "nbf", "iat"} and not finite:
        return f"claim {claim} must be a number (seconds since 1970)"
    if claim == "nbf":
        return "token not yet valid (nbf)"
    if claim == "iat":
        return "token issued in the future (iat)"
    if claim == "iss":
        return "wrong issuer"
    if claim == "aud":
        return "wrong audience"
    if claim == "sub":
        return "claim sub must be a non-empty string"
    return f"invalid claim {claim}"


_REGION = re.compile(r"[0-9]{9}")


def principal_from_claims(claims: Mapping[str, Any]) -> Principal:
    """The caller named by already validated standard claims, and this service's own claims checked."""
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub or len(sub) > 255:
        raise TokenError("claim sub must be a non-empty string of at most 255 characters")
    body = claims.get("body")
    if body is None:
        raise TokenError("missing claim: body")
    if body not in Body.__members__.values():
        raise TokenError("claim body must be one of " + ", ".join(Body))
    region = claims.get("region")
    if region is None:
        if Body(body) not in WHOLE_DATASET_BODIES:
            raise TokenError(f"claim region is required for body {body}")
    elif not isinstance(region, str) or not _REGION.fullmatch(region):
        raise TokenError("claim region must be a 9-digit region code")
    pii = claims.get("pii", False)
    if not isinstance(pii, bool):
        raise TokenError("claim pii must be a boolean")
    org = claims.get("org")
    if org is not None and (not isinstance(org, str) or not org or len(org) > 255):
        raise TokenError("claim org must be a non-empty string of at most 255 characters")
    return Principal(sub=sub, body=Body(body), region=region, pii=pii, org=org)


# --- the local demo issuer -------------------------------------------------------------------------------


def init_keys(keys_dir: Path | str, *, settings: AuthSettings | None = None, force: bool = False) -> Path:
    """Make a signing key of the configured family in ``keys_dir`` and its public JWKS; returns the JWKS path.

    The private key is written with mode 0600 (the folder 0700). Existing keys are kept unless ``force``:
    replacing them makes every token signed with the old key unknown (``unknown key id``).
    """
    settings = settings or AuthSettings()
    folder = Path(keys_dir)
    private_path, jwks_path = folder / SIGNING_KEY_FILE, folder / JWKS_FILE
    existing = [path for path in (private_path, jwks_path) if path.exists()]
    if existing and not force:
        raise FileExistsError(f"keys exist in {folder} ({', '.join(p.name for p in existing)})")
    parameters: KeyParameters = {"alg": settings.algorithm, "use": "sig"}
    key: PublicKey
    if settings.algorithm == "ES256":
        key = ECKey.generate_key("P-256", parameters=parameters, auto_kid=True)
    else:
        key = RSAKey.generate_key(2048, parameters=parameters, auto_kid=True)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    _write(private_path, key.as_dict(private=True), mode=0o600)
    _write(jwks_path, {"keys": [key.as_dict(private=False)]}, mode=0o644)
    return jwks_path


def _write(path: Path, document: Mapping[str, Any], *, mode: int) -> None:
    """Write ``path`` whole or not at all, created with ``mode`` (never wider, whatever the umask)."""
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        os.fchmod(descriptor, mode)
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            json.dump(document, file, indent=2)
            file.write("\n")
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def mint(
    keys_dir: Path | str,
    *,
    body: Body | str,
    region: str | None,
    pii: bool = False,
    ttl_seconds: int = 3600,
    sub: str | None = None,
    org: str | None = None,
    settings: AuthSettings | None = None,
) -> str:
    """A token signed with the local key, for the configured issuer and audience.

    Refuses (:class:`TokenError`) what the verifier would refuse: a bad body or region, or no region for a
    body that needs one.
    """
    settings = settings or AuthSettings()
    if ttl_seconds <= 0:
        raise ValueError("ttl_seconds must be positive")
    key = _signing_key(Path(keys_dir), settings.algorithm)
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": settings.issuer,
        "aud": settings.audience,
        "sub": sub or f"local:{body}",
        "iat": now,
        "exp": now + ttl_seconds,
        "jti": secrets.token_urlsafe(12),
        "body": str(body),
        "pii": pii,
    }
    if region is not None:
        claims["region"] = region
    if org is not None:
        claims["org"] = org
    principal_from_claims(claims)
    header = {"alg": settings.algorithm, "kid": key.kid}
    return jwt.encode(header, claims, key, algorithms=[settings.algorithm])


def _signing_key(folder: Path, algorithm: str) -> PublicKey:
    path = folder / SIGNING_KEY_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(f"no signing key in {folder} (run: oversight keys init)") from None
    family = {"ES256": "EC", "RS256": "RSA"}[algorithm]
    if data.get("kty") != family or data.get("alg", algorithm) != algorithm:
        raise ValueError(
            f"the key in {folder} is not an {algorithm} key (run: oversight keys init --force, "
            "or set OVERSIGHT_AUTH_ALGORITHM to its algorithm)"
        )
    return ECKey.import_key(data) if family == "EC" else RSAKey.import_key(data)
