"""Console: sign in with a token, sign out, and the list of companies a session reaches."""

from __future__ import annotations

from typing import Any

from flask import current_app, g, make_response, redirect, request, url_for

from infra.ratelimit import FailureLimit

from . import auth, bp, page, render, safe_next


@bp.route("/signin", methods=["GET", "POST"])
def signin() -> Any:
    """The sign-in form; a good token starts a session, a bad one is told so (and nothing is set)."""
    error = None
    if request.method == "POST":
        if not auth.same_origin() or not auth.signin_csrf_ok():
            return page(403, "Form refused", "This form has expired or came from another site. Reload the page "
                        "and try again.")
        limit = _limit()
        client = request.remote_addr or "unknown"
        wait = limit.retry_after(client)
        if wait:
            resp = make_response(page(429, "Too many attempts", f"Too many wrong tokens from your address. Try "
                                      f"again in {max(1, wait // 60)} minute(s)." if wait >= 60 else
                                      f"Too many wrong tokens from your address. Try again in {wait} seconds."))
            resp.headers["Retry-After"] = str(wait)
            return resp
        staff = auth.check_token(request.form.get("token", ""))
        if staff is not None:
            return auth.remember(redirect(safe_next(request.form.get("next"))), staff)
        limit.failed(client)
        error = "That token is not the admin token or a company's token."
    resp = make_response(render("signin.html", error=error, next=safe_next(request.args.get("next")
                                                                            or request.form.get("next"))),
                         401 if error else 200)
    return auth.keep_signin_csrf(resp)


def _limit() -> FailureLimit:
    """This process's sign-in failure limit (made on first use from the settings)."""
    limit = current_app.extensions.get("console_signin_limit")
    if limit is None:
        settings = current_app.config["SETTINGS"]
        limit = FailureLimit(settings.SIGNIN_FAILURES, settings.SIGNIN_WINDOW_S)
        current_app.extensions["console_signin_limit"] = limit
    return limit


@bp.post("/signout")
def signout() -> Any:
    """End the session."""
    return auth.forget(redirect(url_for("console.signin")))


@bp.get("/")
def index() -> Any:
    """The companies this session reaches (a company session goes straight to its own)."""
    staff = g.staff
    if staff.role == "company":
        return redirect(url_for("console.overview", company_id=staff.company_id))
    return render("companies.html", companies=current_app.extensions["catalog"].companies.summaries())
