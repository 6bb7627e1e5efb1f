"""Console: sign in with a token, sign out, and the list of companies a session reaches."""

from __future__ import annotations

from typing import Any

from flask import current_app, g, make_response, redirect, request, url_for

from . import auth, bp, page, render, safe_next


@bp.route("/signin", methods=["GET", "POST"])
def signin() -> Any:
    """The sign-in form; a good token starts a session, a bad one is told so (and nothing is set)."""
    error = None
    if request.method == "POST":
        if not auth.same_origin() or not auth.signin_csrf_ok():
            return page(403, "Form refused", "This form has expired or came from another site. Reload the page "
                        "and try again.")
        staff = auth.check_token(request.form.get("token", ""))
        if staff is not None:
            return auth.remember(redirect(safe_next(request.form.get("next"))), staff)
        error = "That token is not the admin token or a company's token."
    resp = make_response(render("signin.html", error=error, next=safe_next(request.args.get("next")
                                                                            or request.form.get("next"))),
                         401 if error else 200)
    return auth.keep_signin_csrf(resp)


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
