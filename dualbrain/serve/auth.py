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
from urllib.parse import urlsplit

from fastapi import HTTPException, Request
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.responses import JSONResponse

from dualbrain.store.keys import SCOPES, ApiKey, KeyStore

PUBLIC_PATHS = frozenset({"/health"})
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
# Stands for the key of a server started with --no-auth (loopback only): everything is allowed.
OPEN_ACCESS = ApiKey("no-auth", None, SCOPES[-1], "", None)


class RequireApiKey(BaseHTTPMiddleware):
    def __init__(self, app, keys: KeyStore | None):
        super().__init__(app)
        self._keys = keys  # None: --no-auth

    async def dispatch(self, request: Request, call_next):
        response = await self._checked(request, call_next)
        # The UI must not be framed by another site (clickjacking), nor load anything from elsewhere.
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Content-Security-Policy"] = "default-src 'self'; frame-ancestors 'none'"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    async def _checked(self, request: Request, call_next):
        if request.url.path in PUBLIC_PATHS and request.method == "GET":
            return await call_next(request)
        if self._keys is None:
            # Without keys only this machine may call, and by a loopback name: a web page whose domain
            # was pointed at 127.0.0.1 (DNS rebinding) sends its own Host and is refused.
            if request.headers.get("host", "").rsplit(":", 1)[0].strip("[]") not in LOOPBACK_NAMES:
                return _refusal(403, "with --no-auth only loopback host names are served")
            if _cross_site(request):
                return _refusal(403, "cross-site requests are refused")
            request.state.key = OPEN_ACCESS
            return await call_next(request)
        authorization = request.headers.get("authorization", "")
        token = _presented_key(authorization)
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
        # A browser re-sends a Basic password on requests other sites trigger (CSRF): changes made with it
        # must come from this server's own pages.
        if authorization.partition(" ")[0].lower() == "basic" and _cross_site(request):
            return _refusal(403, "cross-site requests are refused")
        request.state.key = key
        return await call_next(request)


def _cross_site(request: Request) -> bool:
    """A state-changing request that a page of another origin made (Sec-Fetch-Site, else Origin, tells)."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return False
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None:
        return fetch_site not in ("same-origin", "none")
    origin = request.headers.get("origin")
    return origin is not None and urlsplit(origin).netloc != request.headers.get("host")


def _refusal(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": "forbidden"}}, status_code=status)


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
