"""Deny by default: every request but ``GET /health`` needs a live API key.

The key comes as ``Authorization: Bearer <key>`` (API clients) or as the password of HTTP Basic auth
(the web UI: the browser asks once and then sends it with every request, page loads and the UI's own
calls alike, so no page is served to someone without a key and the key is never kept in page storage).

The check is ASGI middleware, not a per-route dependency, so a route added later (or FastAPI's own
``/openapi.json``) cannot be left open by forgetting it. Routes then ask :func:`authorize` for the scope
and knowledge base they act on; a knowledge base outside the key's reach answers 404, as if it did not
exist, so a key cannot even learn which other knowledge bases are there.
"""

from __future__ import annotations

import base64
import binascii

from fastapi import HTTPException, Request
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.responses import JSONResponse

from dualbrain.store.keys import SCOPES, ApiKey, KeyStore

PUBLIC_PATHS = frozenset({"/health"})
# Stands for the key of a server started with --no-auth (loopback only): everything is allowed.
OPEN_ACCESS = ApiKey("no-auth", None, SCOPES[-1], "", None)


class RequireApiKey(BaseHTTPMiddleware):
    def __init__(self, app, keys: KeyStore | None):
        super().__init__(app)
        self._keys = keys  # None: --no-auth

    async def dispatch(self, request: Request, call_next):
        if request.url.path in PUBLIC_PATHS and request.method == "GET":
            return await call_next(request)
        if self._keys is None:
            request.state.key = OPEN_ACCESS
            return await call_next(request)
        token = _presented_key(request.headers.get("authorization", ""))
        key = self._keys.authenticate(token) if token else None
        if key is None:
            refusal = JSONResponse(
                {"error": {"message": "a valid API key is required (Authorization: Bearer <key>)", "type": "unauthorized"}},
                status_code=401, headers={"WWW-Authenticate": "Bearer"},
            )
            # Basic makes a browser ask for the key (any user name, the key as password). A header of its
            # own: browsers read one challenge per header line.
            refusal.headers.append("WWW-Authenticate", 'Basic realm="dualbrain", charset="UTF-8"')
            return refusal
        request.state.key = key
        return await call_next(request)


def _presented_key(header: str) -> str | None:
    """The key in an Authorization header: a Bearer token, or a Basic password."""
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() == "bearer":
        return credentials.strip()
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(credentials.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        return decoded.partition(":")[2]
    return None


def authorize(request: Request, scope: str, kb: str | None = None) -> ApiKey:
    """The request's key if it may act with ``scope`` on ``kb``; else 404 (another knowledge base) or 403."""
    key: ApiKey = request.state.key
    if kb is not None and key.kb is not None and key.kb != kb:
        raise HTTPException(404, f"unknown knowledge base '{kb}'")
    if not key.allows(scope, kb):
        raise HTTPException(403, f"this key's scope ({key.scope}) does not allow {scope}")
    return key
