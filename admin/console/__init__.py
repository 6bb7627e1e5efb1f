"""The staff console: server-rendered pages per company (overview, calls, cheat sheet, test call, learning).

Pages are Jinja templates (autoescaped) with one stylesheet and no scripts; charts are SVG drawn
on the server. Each route parses its form, calls the same service function the admin API calls,
and renders. Sign-in, sessions and CSRF are in ``auth``.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, Response, g, redirect, render_template, request, url_for

from . import auth
from .format import FILTERS

bp = Blueprint("console", __name__, url_prefix="/console", template_folder="templates", static_folder="static",
               static_url_path="/static")
PUBLIC = {"console.signin", "console.static"}


def page(status: int, title: str, message: str) -> tuple[str, int]:
    """A page that only says what went wrong (with the status code)."""
    return render_template("message.html", title=title, message=message), status


def render(template: str, **context: Any) -> str:
    """Render a console page for the signed-in staff."""
    return render_template(template, **context)


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a console path only (never another site)."""
    if target and target.startswith("/console/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("console.index")


@bp.before_request
def guard() -> Any:
    """Nothing but the sign-in page without a session; CSRF on every POST; a company session sees its own."""
    from flask import current_app

    if not current_app.config["SETTINGS"].ADMIN_TOKEN:
        return page(503, "Console off", "The console is off: set ADMIN_TOKEN to enable it.")
    if request.endpoint in PUBLIC:
        return None
    staff = auth.current()
    if staff is None:
        if request.method == "GET":
            return redirect(url_for("console.signin", next=request.full_path.rstrip("?")))
        return page(401, "Signed out", "Your session has ended. Sign in again.")
    g.staff = staff
    if request.method == "POST" and not auth.csrf_ok(staff):
        return page(403, "Form refused", "This form has expired or came from another site. Reload the page "
                    "and try again.")
    company_id = (request.view_args or {}).get("company_id")
    if company_id is not None and not staff.may_see(company_id):
        return page(403, "Not your company", "Your token reaches only your own company's pages.")
    return None


@bp.after_request
def headers(resp: Response) -> Response:
    """Security headers on every console response."""
    return auth.secure_headers(resp)


@bp.app_template_global()
def csrf_token() -> str:
    """The CSRF token every console form carries."""
    staff = getattr(g, "staff", None)
    return staff.csrf if staff else auth.signin_csrf()


def init_app(app: Flask, settings: Any) -> None:
    """Register the console's pages."""
    from . import calls, editor, learning, overview, practice, signin  # noqa: F401 - their routes register on bp

    app.register_blueprint(bp)
    app.jinja_env.filters.update(FILTERS)


__all__ = ["bp", "init_app", "render", "page", "safe_next"]
