"""``oversight keys init`` and ``oversight token``: the local demo issuer (never used in production)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import typer

from security.principal import Body

keys_app = typer.Typer(help="The local demo issuer's signing key.", no_args_is_help=True)

_DURATION = re.compile(r"([0-9]+)([smhd]?)")
_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> int:
    """Seconds in ``3600``, ``90s``, ``30m``, ``1h`` or ``7d``."""
    match = _DURATION.fullmatch(text.strip().lower())
    if not match or int(match[1]) == 0:
        raise typer.BadParameter("a positive duration such as 3600, 30m, 1h or 7d")
    return int(match[1]) * _SECONDS[match[2]]


@keys_app.command("init")
def keys_init(
    folder: Annotated[
        Path | None,
        typer.Option("--dir", help="Key folder (default: OVERSIGHT_AUTH_KEYS_DIR, ./.oversight-keys)."),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace existing keys (tokens signed with them stop working).")
    ] = False,
) -> None:
    """Make the local signing key (of OVERSIGHT_AUTH_ALGORITHM's family) and its public jwks.json."""
    from security.tokens import AuthSettings, init_keys

    settings = AuthSettings()
    folder = folder or settings.keys_dir
    try:
        jwks = init_keys(folder, settings=settings, force=force)
    except FileExistsError as error:
        typer.echo(f"{error}; --force replaces them", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"{settings.algorithm} signing key in {folder} (private, mode 0600); public keys: {jwks}")


def token_command(
    body: Annotated[Body, typer.Option(help="The caller's body (the token's body claim).")],
    region: Annotated[
        str | None,
        typer.Option(help="9-digit region code of the jurisdiction; only admin and audit_admin may omit it."),
    ] = None,
    pii: Annotated[bool, typer.Option("--pii", help="Grant personal-data clearance.")] = False,
    ttl: Annotated[str, typer.Option(help="Lifetime: seconds, or 30m, 1h, 7d.")] = "1h",
    sub: Annotated[str | None, typer.Option(help="Subject (default: local:<body>).")] = None,
    org: Annotated[str | None, typer.Option(help="The caller's organisation.")] = None,
    folder: Annotated[
        Path | None, typer.Option("--dir", help="Key folder (default: OVERSIGHT_AUTH_KEYS_DIR).")
    ] = None,
) -> None:
    """Print a bearer token signed with the local key, for the configured issuer and audience."""
    from security.tokens import AuthSettings, TokenError, mint

    settings = AuthSettings()
    try:
        token = mint(
            folder or settings.keys_dir,
            body=body,
            region=region,
            pii=pii,
            ttl_seconds=parse_duration(ttl),
            sub=sub,
            org=org,
            settings=settings,
        )
    except (TokenError, OSError, ValueError) as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(2) from None
    typer.echo(token)
