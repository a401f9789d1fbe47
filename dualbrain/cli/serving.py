"""`dualbrain serve` and `dualbrain keys …`: the HTTP server and the API keys that open it."""

from __future__ import annotations

import ipaddress
from dataclasses import asdict
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from dualbrain.cli.common import (
    Engine, EngineOption, HomeOption, JsonOption, ModelOption, NoShortTermOption, err, out, print_rows,
)
from dualbrain.errors import DualBrainError
from dualbrain.store import Home, Quotas
from dualbrain.store.keys import SCOPES

keys_app = typer.Typer(help="API keys for the server: create (shown once), list, revoke.", no_args_is_help=True)
KeyScope = Enum("KeyScope", {scope: scope for scope in SCOPES}, type=str)


def serve(
    host: Annotated[str, typer.Option("--host", help="Address to listen on (default: this machine only).")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535)] = 8000,
    no_auth: Annotated[bool, typer.Option("--no-auth", help="No API keys (only on a loopback --host).")] = False,
    consolidate: Annotated[bool, typer.Option("--consolidate", help="When the queue is idle, retrain shards that name "
                                              "the same things as one (cross-document questions; see docs/incremental.md "
                                              "for what it costs).")] = False,
    home: HomeOption = None,
    model: ModelOption = None,
    engine: EngineOption = Engine.torch,
    no_short_term: NoShortTermOption = False,
    tls_cert: Annotated[Optional[Path], typer.Option("--tls-cert", help="Serve HTTPS with this certificate (PEM; "
                                                     "with --tls-key).")] = None,
    tls_key: Annotated[Optional[Path], typer.Option("--tls-key", help="The certificate's private key (PEM).")] = None,
    kb_max_chars: Annotated[int, typer.Option("--kb-max-chars", min=0, help="Characters one knowledge base may hold "
                                              "(0: no limit).")] = Quotas.max_chars,
    kb_chars_per_hour: Annotated[int, typer.Option("--kb-chars-per-hour", min=0, help="Characters one knowledge base "
                                                   "may take in per hour, each learned by the one worker (0: no limit).")
                                 ] = Quotas.chars_per_hour,
) -> None:
    """Serve the OpenAI-compatible API (/v1/chat/completions, /v1/models) and knowledge-base routes."""
    import uvicorn

    from dualbrain.serve.access_log import log_config
    from dualbrain.serve.app import create_app

    if no_auth and not _is_loopback(host):
        raise DualBrainError(f"--no-auth is only allowed on a loopback address, not {host}")
    if (tls_cert is None) != (tls_key is None):
        raise DualBrainError("--tls-cert and --tls-key go together")
    for path in (tls_cert, tls_key):
        if path is not None and not path.is_file():
            raise DualBrainError(f"no such file: {path}")
    if no_auth:
        err.print("warning: --no-auth: anyone on this machine can read and change every knowledge base")
    elif not Home(home).keys().list():
        err.print("warning: no API keys yet; create one with: dualbrain keys create --scope admin")
    if not no_auth and tls_cert is None and not _is_loopback(host):
        err.print(f"warning: serving {host} over plain HTTP: API keys and documents cross the network readable; "
                  "pass --tls-cert/--tls-key, or put a TLS proxy in front")
    app = create_app(Home(home), model, auth=not no_auth, consolidate=consolidate, engine=engine.value,
                     short_term=not no_short_term, quotas=Quotas(kb_max_chars or None, kb_chars_per_hour or None))
    uvicorn.run(app, host=host, port=port, log_level="info", log_config=log_config(),
                ssl_certfile=tls_cert, ssl_keyfile=tls_key)


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


@keys_app.command("create")
def keys_create(
    scope: Annotated[KeyScope, typer.Option("--scope", help="read: ask and list; write: also upload, learn, forget, "
                                            "rollback; admin: also create and delete knowledge bases.")],
    kb: Annotated[Optional[str], typer.Option("--kb", help="The one knowledge base the key may use (default: every one).")] = None,
    home: HomeOption = None,
) -> None:
    """Create an API key; the key itself is printed once, alone on the last line."""
    home_ = Home(home)
    if kb is not None:
        home_.open_kb(kb)  # refuse a key for a knowledge base that does not exist (a typo would lock users out)
    key, token = home_.keys().create(scope.value, kb)
    out.print(f"created key {key.id} ({key.scope} on {key.kb or 'every knowledge base'}); store it now, it is not shown again:")
    print(token)


@keys_app.command("list")
def keys_list(home: HomeOption = None, as_json: JsonOption = False) -> None:
    """List API keys (never the keys themselves)."""
    print_rows([asdict(key) for key in Home(home).keys().list()], as_json, {
        "id": lambda key: key["id"], "knowledge base": lambda key: key["kb"] or "(every)", "scope": lambda key: key["scope"],
        "created": lambda key: key["created_at"][:19], "revoked": lambda key: (key["revoked_at"] or "")[:19],
    })


@keys_app.command("revoke")
def keys_revoke(key_id: Annotated[str, typer.Argument(help="The key's id (see: dualbrain keys list).")], home: HomeOption = None) -> None:
    """Revoke an API key: it stops working at once."""
    key = Home(home).keys().revoke(key_id)
    out.print(f"revoked key {key.id}")
