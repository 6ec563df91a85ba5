"""Bearer tokens: a token from the issuer names the caller; no forged or malformed token is ever accepted.

No database. Every test runs with ES256 and with RS256 settings. The issuer's keys come from the local key
folder (``oversight keys init``) or from a real HTTP server on 127.0.0.1; a second server stands where a
forged ``jku`` or ``x5u`` header points, and must never be asked for anything.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import stat
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from joserfc.jwk import ECKey, Key, RSAKey, import_key
from joserfc.jws import JWSRegistry
from typer.testing import CliRunner

from cli.main import app
from security.jwks import parse_jwks
from security.principal import Body, Principal
from security.tokens import (
    SIGNING_KEY_FILE,
    AuthSettings,
    TokenError,
    TokenVerifier,
    init_keys,
    mint,
)

ALGORITHMS = ["ES256", "RS256"]
OTHER = {"ES256": "RS256", "RS256": "ES256"}
REGION = "410100000"
ISSUER = "https://issuer.test"  # not the local issuer's name: the URL-fed verifiers need a real one
DROP = object()  # a claim or header member to leave out


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def new_key(alg: str) -> Key:
    if alg == "ES256":
        return ECKey.generate_key("P-256", auto_kid=True)
    return RSAKey.generate_key(2048, auto_kid=True)


def public_jwks(*keys: Key) -> dict[str, Any]:
    return {"keys": [key.as_dict(private=False) for key in keys]}


class KeyServer:
    """A real HTTP server on 127.0.0.1 that serves one document and counts the requests it gets."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self.status = 200
        self.requests = 0
        self.paths: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                server.requests += 1
                server.paths.append(self.path)
                body = json.dumps(server.document).encode()
                self.send_response(server.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/jwks.json"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@dataclass
class Issuer:
    """The local demo issuer of one algorithm, an attacker's keys, and a way to sign anything."""

    alg: str
    settings: AuthSettings
    key: Key  # the issuer's private signing key
    attacker: Key  # another key of the same family, unknown to the verifier
    other_family: Key  # a key of the other family
    trap_url: str  # where a forged jku/x5u points (a server that must get no request)
    verifier: TokenVerifier = field(init=False)

    def __post_init__(self) -> None:
        self.verifier = TokenVerifier(self.settings)

    def claims(self, **changes: Any) -> dict[str, Any]:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.settings.issuer,
            "aud": self.settings.audience,
            "sub": "auditor-7",
            "iat": now,
            "exp": now + 600,
            "body": "audit",
            "region": REGION,
            "pii": False,
        }
        claims.update(changes)
        return {name: value for name, value in claims.items() if value is not DROP}

    def token(
        self,
        header: dict[str, Any] | None = None,
        claims: dict[str, Any] | None = None,
        *,
        key: Key | None = None,
        payload: bytes | None = None,
        raw_header: bytes | None = None,
        secret: bytes | None = None,
    ) -> str:
        """Sign anything: the header's ``alg`` with ``key`` (default: the issuer's), or HMAC ``secret``."""
        key = key or self.key
        full_header = {"alg": self.alg, "kid": key.kid, "typ": "JWT", **(header or {})}
        full_header = {name: value for name, value in full_header.items() if value is not DROP}
        header_segment = b64(raw_header or json.dumps(full_header).encode())
        payload_segment = b64(
            payload if payload is not None else json.dumps(claims or self.claims()).encode()
        )
        signing_input = f"{header_segment}.{payload_segment}".encode()
        alg = full_header.get("alg")
        if secret is not None:
            signature = hmac.new(secret, signing_input, hashlib.sha256).digest()
        elif alg == ("ES256" if isinstance(key, ECKey) else "RS256"):
            signature = JWSRegistry.algorithms[alg].sign(signing_input, key)
        else:
            signature = b"\x00" * 64  # an algorithm nobody here can check: never looked at
        return f"{header_segment}.{payload_segment}.{b64(signature)}"

    def valid(self) -> str:
        return self.token()


@pytest.fixture(scope="module")
def trap() -> Iterator[KeyServer]:
    """Where forged jku/x5u headers point; it would serve the attacker's key, were it ever asked."""
    server = KeyServer({"keys": []})
    yield server
    server.close()


@pytest.fixture(scope="module", params=ALGORITHMS)
def issuer(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, trap: KeyServer
) -> Issuer:
    alg = request.param
    folder = tmp_path_factory.mktemp(f"keys-{alg}")
    settings = AuthSettings(algorithm=alg, keys_dir=folder, issuer=ISSUER)
    init_keys(folder, settings=settings)
    key = import_key(json.loads((folder / SIGNING_KEY_FILE).read_text()))
    attacker = new_key(alg)
    trap.document = {"keys": trap.document["keys"] + public_jwks(attacker)["keys"]}
    return Issuer(alg, settings, key, attacker, new_key(OTHER[alg]), trap.url)


# --- what a valid token gives -----------------------------------------------------------------------


@pytest.mark.parametrize("body", list(Body))
def test_a_valid_token_names_its_caller(issuer: Issuer, body: Body) -> None:
    region = None if body in (Body.admin, Body.audit_admin) else REGION
    token = mint(
        issuer.settings.keys_dir,
        body=body,
        region=region,
        pii=body is Body.discipline,
        sub=f"user-{body}",
        org="河南省人大常委会预算工委",
        settings=issuer.settings,
    )
    assert issuer.verifier.verify(token) == Principal(
        sub=f"user-{body}",
        body=body,
        region=region,
        pii=body is Body.discipline,
        org="河南省人大常委会预算工委",
    )


def test_an_admin_token_may_still_name_a_region(issuer: Issuer) -> None:
    token = mint(issuer.settings.keys_dir, body=Body.admin, region=REGION, settings=issuer.settings)
    assert issuer.verifier.verify(token).region == REGION


def test_clock_skew_within_the_leeway_is_allowed(issuer: Issuer) -> None:
    now = int(time.time())
    late = issuer.token(claims=issuer.claims(exp=now - 10, iat=now - 700))
    early = issuer.token(claims=issuer.claims(nbf=now + 10, iat=now + 10))
    assert issuer.verifier.verify(late).sub == issuer.verifier.verify(early).sub == "auditor-7"


def test_an_audience_list_holding_ours_is_accepted(issuer: Issuer) -> None:
    token = issuer.token(claims=issuer.claims(aud=["other-api", issuer.settings.audience]))
    assert issuer.verifier.verify(token).body is Body.audit


# --- what is refused: every forged or malformed class, with its reason ---------------------------


def _payload_swap(i: Issuer) -> str:
    header, _, signature = i.valid().split(".")
    return ".".join([header, b64(json.dumps(i.claims(body="admin", region=DROP)).encode()), signature])


def _raw_payload(text: str) -> Callable[[Issuer], str]:
    return lambda i: i.token(payload=text.encode())


def _exp_literal(literal: str) -> Callable[[Issuer], str]:
    """A signed token whose exp is written as ``literal`` (JSON that Python reads as a float)."""

    def forge(i: Issuer) -> str:
        return i.token(payload=json.dumps(i.claims(exp=0)).replace('"exp": 0', f'"exp": {literal}').encode())

    return forge


Forge = Callable[[Issuer], str]
FORGED: list[tuple[str, Forge, str]] = [
    # the algorithm
    (
        "alg-none",
        lambda i: i.token({"alg": "none"}).rsplit(".", 1)[0] + ".",
        "algorithm none is not accepted",
    ),
    ("alg-none-uppercase", lambda i: i.token({"alg": "NONE"}), "algorithm none is not accepted"),
    (
        "hs256-keyed-with-the-public-key",
        lambda i: i.token({"alg": "HS256"}, secret=i.key.as_pem(private=False)),
        "algorithm HS256 is not accepted",
    ),
    (
        "other-family-algorithm",
        lambda i: i.token({"alg": OTHER[i.alg]}, key=i.other_family),
        "is not accepted (only",
    ),
    ("same-family-other-hash", lambda i: i.token({"alg": i.alg[:2] + "512"}), "512 is not accepted"),
    ("alg-missing", lambda i: i.token({"alg": DROP}), "header has no algorithm"),
    # where the key comes from
    (
        "embedded-jwk",
        lambda i: i.token({"jwk": i.attacker.as_dict(private=False)}, key=i.attacker),
        "embedded jwk header is not accepted",
    ),
    ("jku-header", lambda i: i.token({"jku": i.trap_url}, key=i.attacker), "jku header is not accepted"),
    ("x5u-header", lambda i: i.token({"x5u": i.trap_url}, key=i.attacker), "x5u header is not accepted"),
    ("x5c-header", lambda i: i.token({"x5c": ["MIIB"]}, key=i.attacker), "x5c certificate chain"),
    ("unknown-kid", lambda i: i.token(key=i.attacker), "unknown key id"),
    ("kid-missing", lambda i: i.token({"kid": DROP}), "header has no key id"),
    ("kid-not-a-string", lambda i: i.token({"kid": 1}), "header has no key id"),
    # the signature
    ("issuer-kid-attacker-key", lambda i: i.token({"kid": i.key.kid}, key=i.attacker), "bad signature"),
    ("payload-swapped", _payload_swap, "bad signature"),
    ("signature-garbage", lambda i: i.valid().rsplit(".", 1)[0] + ".AAAA", "bad signature"),
    ("signature-empty", lambda i: i.valid().rsplit(".", 1)[0] + ".", "payload or signature is empty"),
    # other header members
    ("crit-header", lambda i: i.token({"crit": ["exp"]}), "crit header is not accepted"),
    ("b64-false", lambda i: i.token({"b64": False, "crit": ["b64"]}), "unencoded payload"),
    ("unknown-header", lambda i: i.token({"zip": "DEF"}), "header zip is not accepted"),
    ("typ-not-jwt", lambda i: i.token({"typ": "JWE"}), "typ must be"),
    (
        "header-repeats-alg",
        lambda i: i.token(raw_header=f'{{"alg":"none","alg":"{i.alg}","kid":"{i.key.kid}"}}'.encode()),
        "header repeats member alg",
    ),
    # time
    ("expired", lambda i: i.token(claims=i.claims(exp=int(time.time()) - 120)), "token expired"),
    ("not-yet-valid", lambda i: i.token(claims=i.claims(nbf=int(time.time()) + 600)), "not yet valid"),
    (
        "issued-in-the-future",
        lambda i: i.token(claims=i.claims(iat=int(time.time()) + 600)),
        "issued in the future",
    ),
    ("exp-a-string", lambda i: i.token(claims=i.claims(exp="9999999999")), "claim exp must be a number"),
    ("exp-nan", _raw_payload('{"iss":"x","exp":NaN}'), "payload holds NaN"),
    ("exp-overflows-to-infinity", _exp_literal("1e400"), "claim exp must be a number"),
    # issuer, audience, subject
    ("wrong-issuer", lambda i: i.token(claims=i.claims(iss="https://evil.example")), "wrong issuer"),
    ("wrong-audience", lambda i: i.token(claims=i.claims(aud="another-api")), "wrong audience"),
    ("audience-list-without-ours", lambda i: i.token(claims=i.claims(aud=["a", "b"])), "wrong audience"),
    ("missing-iss", lambda i: i.token(claims=i.claims(iss=DROP)), "missing claim: iss"),
    ("missing-aud", lambda i: i.token(claims=i.claims(aud=DROP)), "missing claim: aud"),
    ("missing-exp", lambda i: i.token(claims=i.claims(exp=DROP)), "missing claim: exp"),
    ("missing-sub", lambda i: i.token(claims=i.claims(sub=DROP)), "missing claim: sub"),
    ("empty-sub", lambda i: i.token(claims=i.claims(sub="")), "claim sub must be a non-empty string"),
    # this service's claims
    ("missing-body", lambda i: i.token(claims=i.claims(body=DROP)), "missing claim: body"),
    ("bad-body", lambda i: i.token(claims=i.claims(body="superuser")), "claim body must be one of"),
    ("region-short", lambda i: i.token(claims=i.claims(region="4101")), "9-digit region code"),
    (
        "region-fullwidth-digits",
        lambda i: i.token(claims=i.claims(region="４１０１０００００")),
        "9-digit region",
    ),
    ("region-a-number", lambda i: i.token(claims=i.claims(region=410100000)), "9-digit region code"),
    (
        "region-missing-for-congress",
        lambda i: i.token(claims=i.claims(body="congress", region=DROP)),
        "claim region is required for body congress",
    ),
    ("pii-a-string", lambda i: i.token(claims=i.claims(pii="true")), "claim pii must be a boolean"),
    ("pii-a-number", lambda i: i.token(claims=i.claims(pii=1)), "claim pii must be a boolean"),
    ("org-not-a-string", lambda i: i.token(claims=i.claims(org=["a"])), "claim org must be"),
    ("claim-repeated", _raw_payload('{"body":"audit","body":"admin"}'), "payload repeats member body"),
    # shape
    ("empty-string", lambda i: "", "not three dot-separated parts"),
    ("two-parts", lambda i: i.valid().rsplit(".", 1)[0], "not three dot-separated parts"),
    ("four-parts", lambda i: i.valid() + ".AAAA", "not three dot-separated parts"),
    ("jwe-five-parts", lambda i: "eyJhbGciOiJkaXIifQ..AAAA.AAAA.AAAA", "not three dot-separated parts"),
    ("header-bad-base64", lambda i: "ey$J.e30.AAAA", "header is empty or not base64url"),
    ("payload-bad-base64", lambda i: i.valid().replace(".", ".+/", 1), "payload or signature is empty"),
    ("header-not-json", lambda i: b64(b"alg=ES256") + ".e30.AAAA", "header is not base64url-encoded JSON"),
    ("header-a-json-array", lambda i: b64(b'["alg"]') + ".e30.AAAA", "header is not a JSON object"),
    ("payload-not-json", _raw_payload("body=admin"), "payload is not a JSON object"),
    ("payload-a-json-array", _raw_payload('["audit"]'), "payload is not a JSON object"),
    (
        "oversized",
        lambda i: i.token(claims=i.claims(org="x" * 9000)),
        "token too large (more than 8192 bytes)",
    ),
    ("not-a-string", lambda i: i.valid().encode(), "token must be a string"),
]


def test_at_least_fifteen_forged_classes(record_property: Callable[[str, object], None]) -> None:
    record_property("summary", f"tokens: {len(FORGED)} forged or malformed token classes, each refused")
    print(f"{len(FORGED)} forged or malformed token classes")
    assert len(FORGED) >= 15
    assert len({name for name, _, _ in FORGED}) == len(FORGED)


def test_every_forged_class_is_documented() -> None:
    doc = (Path(__file__).resolve().parent.parent / "docs" / "security.md").read_text(encoding="utf-8")
    assert f"forges {len(FORGED)} classes" in doc
    assert [name for name, _, _ in FORGED if f"`{name}`" not in doc] == []


@pytest.mark.parametrize(("forge", "reason"), [(f, r) for _, f, r in FORGED], ids=[n for n, _, _ in FORGED])
def test_a_forged_token_is_refused_with_its_reason(issuer: Issuer, forge: Forge, reason: str) -> None:
    with pytest.raises(TokenError) as refused:
        issuer.verifier.verify(forge(issuer))
    assert reason in str(refused.value)


def test_no_forged_token_is_accepted_and_no_token_url_is_fetched(issuer: Issuer, trap: KeyServer) -> None:
    server = KeyServer(public_jwks(issuer.key))
    try:
        by_url = TokenVerifier(AuthSettings(algorithm=issuer.alg, jwks_url=server.url, issuer=ISSUER))
        accepted = []
        for name, forge, _ in FORGED:
            for verifier in (issuer.verifier, by_url):
                try:
                    verifier.verify(forge(issuer))
                except TokenError:
                    continue
                accepted.append(name)
        assert accepted == []
        assert by_url.verify(issuer.valid()).sub == "auditor-7"
        assert server.requests >= 1  # the configured URL is fetched...
        assert trap.requests == 0, trap.paths  # ...and never one a token names
    finally:
        server.close()


# --- the key set from a URL: cached, refreshed on an unknown kid, rate-limited --------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def served(issuer: Issuer) -> Iterator[tuple[KeyServer, TokenVerifier, Clock]]:
    server = KeyServer(public_jwks(issuer.key))
    clock = Clock()
    settings = AuthSettings(
        algorithm=issuer.alg,
        jwks_url=server.url,
        issuer=ISSUER,
        jwks_ttl_seconds=300,
        jwks_refresh_cooldown_seconds=30,
    )
    verifier = TokenVerifier(settings, clock=clock)
    yield server, verifier, clock
    server.close()


def test_the_key_set_is_cached_for_its_ttl(
    issuer: Issuer, served: tuple[KeyServer, TokenVerifier, Clock]
) -> None:
    server, verifier, clock = served
    for _ in range(5):
        verifier.verify(issuer.valid())
    clock.now += 299
    verifier.verify(issuer.valid())
    assert server.requests == 1
    clock.now += 2
    verifier.verify(issuer.valid())
    assert server.requests == 2


def publish_next_key(issuer: Issuer, server: KeyServer, verifier: TokenVerifier) -> Key:
    """Once the verifier holds the key set, the issuer publishes its next key beside the current one."""
    verifier.verify(issuer.valid())
    rotated = new_key(issuer.alg)
    server.document = public_jwks(issuer.key, rotated)
    return rotated


def test_an_unknown_kid_reads_the_key_set_again(
    issuer: Issuer, served: tuple[KeyServer, TokenVerifier, Clock]
) -> None:
    server, verifier, clock = served
    rotated = publish_next_key(issuer, server, verifier)
    clock.now += 31
    assert verifier.verify(issuer.token(key=rotated)).sub == "auditor-7"
    assert server.requests == 2
    assert verifier.verify(issuer.valid()).sub == "auditor-7"  # the old key still holds
    assert server.requests == 2


def test_reads_for_unknown_kids_wait_for_the_cooldown(
    issuer: Issuer, served: tuple[KeyServer, TokenVerifier, Clock]
) -> None:
    server, verifier, clock = served
    rotated = publish_next_key(issuer, server, verifier)
    clock.now += 5
    for _ in range(20):  # a flood of made-up kids within the cooldown: no request at all
        with pytest.raises(TokenError, match="unknown key id"):
            verifier.verify(issuer.token(key=issuer.attacker))
    with pytest.raises(TokenError, match="unknown key id"):
        verifier.verify(issuer.token(key=rotated))  # even a real new key waits for the cooldown
    assert server.requests == 1
    clock.now += 30
    for _ in range(20):  # after it: one read, then the cooldown again
        with pytest.raises(TokenError, match="unknown key id"):
            verifier.verify(issuer.token(key=issuer.attacker))
    assert server.requests == 2
    assert verifier.verify(issuer.token(key=rotated)).sub == "auditor-7"
    assert server.requests == 2


def test_an_unreachable_issuer_leaves_the_keys_held(
    issuer: Issuer, served: tuple[KeyServer, TokenVerifier, Clock]
) -> None:
    server, verifier, clock = served
    verifier.verify(issuer.valid())
    server.status = 500
    clock.now += 301
    assert verifier.verify(issuer.valid()).sub == "auditor-7"
    assert verifier.verify(issuer.valid()).sub == "auditor-7"
    assert server.requests == 2  # one failed read, then the cooldown


def test_no_keys_at_all_is_said_plainly(issuer: Issuer) -> None:
    server = KeyServer({"error": "down"})
    try:
        settings = AuthSettings(algorithm=issuer.alg, jwks_url=server.url, issuer=ISSUER)
        with pytest.raises(TokenError, match="the issuer's keys are unavailable"):
            TokenVerifier(settings).verify(issuer.valid())
    finally:
        server.close()


def test_threads_share_one_read(issuer: Issuer, served: tuple[KeyServer, TokenVerifier, Clock]) -> None:
    server, verifier, _ = served
    token = issuer.valid()
    results: list[Principal] = []

    def check() -> None:
        results.append(verifier.verify(token))

    threads = [threading.Thread(target=check) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 8 and server.requests == 1


def test_only_usable_keys_of_the_family_are_kept(issuer: Issuer) -> None:
    wrong_use = {**issuer.attacker.as_dict(private=False), "use": "enc", "kid": "enc"}
    oct_key = {"kty": "oct", "k": b64(b"secret"), "kid": "hmac"}
    private = issuer.attacker.as_dict(private=True)
    document = {"keys": [oct_key, wrong_use, issuer.other_family.as_dict(private=False), private]}
    keys = parse_jwks(json.dumps(document).encode(), issuer.alg)
    assert list(keys) == [issuer.attacker.kid]
    assert not keys[issuer.attacker.kid].is_private


# --- settings, local keys, the command ------------------------------------------------------------


@pytest.mark.parametrize(
    "changes",
    [
        {"jwks_url": "http://issuer.example/jwks.json", "issuer": "https://issuer.example"},
        {"jwks_url": "https://issuer.example/jwks.json"},  # still the local issuer's name
        {"jwks_url": "https://issuer.example/jwks.json", "issuer": "x", "jwks_file": "jwks.json"},
        {"algorithm": "HS256"},
        {"leeway_seconds": 301},
        {"jwks_refresh_cooldown_seconds": 0},
    ],
    ids=["plain-http", "local-issuer-with-url", "url-and-file", "hmac", "leeway", "no-cooldown"],
)
def test_unsafe_settings_are_refused(changes: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        AuthSettings(**changes)


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OVERSIGHT_AUTH_ALGORITHM", "RS256")
    monkeypatch.setenv("OVERSIGHT_AUTH_KEYS_DIR", "/srv/keys")
    settings = AuthSettings()
    assert settings.algorithm == "RS256" and settings.jwks_path == Path("/srv/keys/jwks.json")


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_local_keys_are_private_and_kept(tmp_path: Path, alg: str) -> None:
    settings = AuthSettings(algorithm=alg, keys_dir=tmp_path / "keys")
    jwks = init_keys(settings.keys_dir, settings=settings)
    assert stat.S_IMODE(os.stat(settings.keys_dir / SIGNING_KEY_FILE).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(settings.keys_dir).st_mode) == 0o700
    published = json.loads(jwks.read_text())["keys"]
    assert len(published) == 1 and published[0]["alg"] == alg and published[0]["kid"]
    assert "d" not in published[0]
    old = mint(settings.keys_dir, body="audit", region=REGION, settings=settings)
    with pytest.raises(FileExistsError):
        init_keys(settings.keys_dir, settings=settings)
    assert TokenVerifier(settings).verify(old).body is Body.audit
    init_keys(settings.keys_dir, settings=settings, force=True)
    with pytest.raises(TokenError, match="unknown key id"):
        TokenVerifier(settings).verify(old)


def test_mint_refuses_what_the_verifier_would(issuer: Issuer) -> None:
    with pytest.raises(TokenError, match="region is required"):
        mint(issuer.settings.keys_dir, body="finance", region=None, settings=issuer.settings)
    with pytest.raises(TokenError, match="9-digit"):
        mint(issuer.settings.keys_dir, body="finance", region="41", settings=issuer.settings)
    with pytest.raises(ValueError, match="positive"):
        mint(issuer.settings.keys_dir, body="admin", region=None, ttl_seconds=0, settings=issuer.settings)
    with pytest.raises(ValueError, match=f"not an {OTHER[issuer.alg]} key"):
        other = issuer.settings.model_copy(update={"algorithm": OTHER[issuer.alg]})
        mint(issuer.settings.keys_dir, body="admin", region=None, settings=other)


def test_the_command_prints_only_the_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OVERSIGHT_AUTH_KEYS_DIR", str(tmp_path / "keys"))
    runner = CliRunner()
    assert runner.invoke(app, ["keys", "init"]).exit_code == 0
    assert runner.invoke(app, ["keys", "init"]).exit_code == 1
    result = runner.invoke(
        app, ["token", "--body", "congress", "--region", REGION, "--pii", "--ttl", "30m", "--org", "人大"]
    )
    assert result.exit_code == 0, result.output
    token = result.stdout.strip()
    assert "\n" not in token
    principal = TokenVerifier(AuthSettings()).verify(token)
    assert principal == Principal(
        sub="local:congress", body=Body.congress, region=REGION, pii=True, org="人大"
    )
    refused = runner.invoke(app, ["token", "--body", "audit"])
    assert refused.exit_code == 2 and "region is required" in refused.stderr
