"""Who is signed in to the console, and what they may reach.

Staff sign in with the admin token (every company) or a company's own token (that company only).
The session is a cookie signed with a key derived from ADMIN_TOKEN (so every worker shares it,
and changing the token signs everyone out): HttpOnly, SameSite=Strict, Secure over HTTPS, eight
hours at most. A company session keeps the digest of its token and ends when the company no
longer has it. Every form carries the session's CSRF token, checked on every POST (and a POST
from another origin is refused even with it). Pages send a Content-Security-Policy with no
scripts at all: the console needs none.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from flask import Response, current_app, g, request
from itsdangerous import BadSignature, URLSafeTimedSerializer

COOKIE, PRE_COOKIE = "console", "console_signin"
MAX_AGE_S = 8 * 3600
PRE_MAX_AGE_S = 3600
HEADERS = {
    "Content-Security-Policy": ("default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
                                "frame-ancestors 'none'; base-uri 'none'"),
    "X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


@dataclass(frozen=True)
class Staff:
    """A signed-in person: ``admin`` (every company) or ``company`` (one)."""

    role: str
    company_id: str | None
    csrf: str
    digest: str = ""

    def may_see(self, company_id: str) -> bool:
        """Whether this session reaches a company's pages."""
        return self.role == "admin" or self.company_id == company_id

    @property
    def by(self) -> str:
        """How staff actions are signed in histories (``console:admin``, ``console:<company>``)."""
        return f"console:{self.company_id or 'admin'}"

    @property
    def full_numbers(self) -> bool:
        """Callers' full numbers are shown only to the company itself (as in the API)."""
        return self.role == "company"


def _serializer(salt: str) -> URLSafeTimedSerializer:
    admin = current_app.config["SETTINGS"].ADMIN_TOKEN
    key = hmac.new(admin.encode(), b"console-cookie-v1", hashlib.sha256).digest()
    return URLSafeTimedSerializer(key, salt=salt)


def check_token(token: str) -> Staff | None:
    """The staff a token signs in (admin, or the company that owns it), or None."""
    token = token.strip()
    admin = current_app.config["SETTINGS"].ADMIN_TOKEN
    if not token or not admin or len(token) > 200:
        return None
    csrf = secrets.token_urlsafe(24)
    if hmac.compare_digest(token.encode(), admin.encode()):
        return Staff("admin", None, csrf)
    company_id = current_app.extensions["catalog"].companies.for_token(token)
    if company_id is None:
        return None
    return Staff("company", company_id, csrf, hashlib.sha256(token.encode()).hexdigest())


def current() -> Staff | None:
    """The signed-in staff from the cookie, or None (missing, forged, expired, or a token since revoked)."""
    raw = request.cookies.get(COOKIE)
    if not raw or not current_app.config["SETTINGS"].ADMIN_TOKEN:
        return None
    try:
        data = _serializer("session").loads(raw, max_age=MAX_AGE_S)
        staff = Staff(str(data["r"]), data.get("c"), str(data["x"]), str(data.get("d") or ""))
    except (BadSignature, KeyError, TypeError):
        return None
    if staff.role == "company":
        record = current_app.extensions["catalog"].companies.get(staff.company_id or "")
        held = [str(t.get("sha256", "")) for t in (record or {}).get("tokens") or ()]
        if not any(hmac.compare_digest(staff.digest, h) for h in held):
            return None
    elif staff.role != "admin":
        return None
    return staff


def _cookie_args(max_age: int) -> dict[str, Any]:
    return {"max_age": max_age, "httponly": True, "samesite": "Strict", "secure": request.is_secure,
            "path": "/console"}


def remember(resp: Response, staff: Staff) -> Response:
    """Set the session cookie (and drop the sign-in form's)."""
    value = _serializer("session").dumps({"r": staff.role, "c": staff.company_id, "x": staff.csrf, "d": staff.digest})
    resp.set_cookie(COOKIE, value, **_cookie_args(MAX_AGE_S))
    resp.delete_cookie(PRE_COOKIE, path="/console")
    return resp


def forget(resp: Response) -> Response:
    """Sign out: the session cookie is dropped."""
    resp.delete_cookie(COOKIE, path="/console", httponly=True, samesite="Strict", secure=request.is_secure)
    return resp


def signin_csrf() -> str:
    """The sign-in form's CSRF token (kept in a short-lived signed cookie until the form is sent)."""
    token = getattr(g, "signin_csrf", None)
    if token is None:
        token = g.signin_csrf = secrets.token_urlsafe(24)
    return token


def keep_signin_csrf(resp: Response) -> Response:
    """Set the sign-in form's CSRF cookie."""
    resp.set_cookie(PRE_COOKIE, _serializer("signin").dumps(signin_csrf()), **_cookie_args(PRE_MAX_AGE_S))
    return resp


def signin_csrf_ok() -> bool:
    """Whether a sign-in POST carries the token its form was given."""
    try:
        expected = _serializer("signin").loads(request.cookies.get(PRE_COOKIE, ""), max_age=PRE_MAX_AGE_S)
    except BadSignature:
        return False
    return hmac.compare_digest(str(expected).encode(), request.form.get("csrf", "").encode())


def same_origin() -> bool:
    """A POST's Origin (when the browser sends one) is this console's own."""
    origin = request.headers.get("Origin")
    if not origin or origin == "null":
        return origin is None
    parts = urlsplit(origin)
    return f"{parts.scheme}://{parts.netloc}" == f"{request.scheme}://{request.host}"


def csrf_ok(staff: Staff) -> bool:
    """Whether a POST carries the session's CSRF token and comes from this origin."""
    return same_origin() and hmac.compare_digest(staff.csrf.encode(), request.form.get("csrf", "").encode())


def secure_headers(resp: Response) -> Response:
    """The console's security headers on every response."""
    for name, value in HEADERS.items():
        resp.headers.setdefault(name, value)
    return resp


__all__ = ["Staff", "check_token", "current", "remember", "forget", "signin_csrf", "keep_signin_csrf",
           "signin_csrf_ok", "csrf_ok", "same_origin", "secure_headers", "COOKIE"]
