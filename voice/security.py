"""Twilio request signatures: the URL Twilio called, and the helper library's validator."""

from __future__ import annotations

import hmac
from typing import Any, Mapping

from twilio.request_validator import RequestValidator


def public_url(*, public_base_url: str, full_path: str, request_url: str) -> str:
    """The URL Twilio signed: ``PUBLIC_BASE_URL`` + path and query when configured, else the request's URL.

    Behind a proxy, ``request_url`` is already rebuilt from the forwarded headers by ProxyFix,
    and only when ``TRUSTED_PROXY_HOPS`` says to trust them.
    """
    if public_base_url:
        path = full_path[:-1] if full_path.endswith("?") else full_path
        return public_base_url.rstrip("/") + path
    return request_url


def signature_ok(validator: RequestValidator | None, url: str, params: Mapping[str, Any], signature: str) -> bool:
    """Whether ``X-Twilio-Signature`` is right for this URL and form (tries with and without the port)."""
    if validator is None or not signature:
        return False
    # The common case first: one HMAC over the URL as we see it. Only when that differs, let the
    # helper library try the URL with and without the port (it signs twice).
    if hmac.compare_digest(validator.compute_signature(url, params), signature):
        return True
    return bool(validator.validate(url, params, signature))


__all__ = ["public_url", "signature_ok"]
