"""Domain errors raised by services, and the one place that maps them to HTTP.

Services raise these with a message already translated for the person in front of the
screen (``lazy_gettext``), so views never invent their own wording.
"""

from __future__ import annotations

from typing import Any, TypeVar

from flask import Flask, Response, current_app, jsonify, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from markupsafe import escape
from sqlalchemy.exc import InterfaceError, OperationalError
from werkzeug.exceptions import HTTPException

from app.extensions import db

T = TypeVar("T")


class DomainError(Exception):
    """Base of every rule violation a service reports."""

    status = 400

    def __init__(self, message: Any, errors: dict[str, list[str]] | None = None) -> None:
        super().__init__(str(message))
        self.message = message
        self.errors = errors or {}


class ValidationFailed(DomainError):
    status = 422


class NotAllowed(DomainError):
    status = 403


class NotFound(DomainError):
    status = 404


class Conflict(DomainError):
    """The request was valid but the thing is no longer in a state that allows it."""

    status = 409


class InvalidTransition(Conflict):
    pass


class NotClaimable(Conflict):
    """The need cannot be claimed now (taken, not published, or the wrong kind)."""


class CapacityExceeded(Conflict):
    """A shift has fewer places left than asked for."""


def get_or_404(session: Any, model: type[T], ident: object) -> T:
    """The row with this primary key, or ``NotFound``."""
    obj = session.get(model, ident)
    if obj is None:
        raise NotFound(_("Not found."))
    return obj


def wants_json() -> bool:
    return request.path.startswith("/api/") or request.path.startswith("/webhooks/")


def error_response(status: int, message: str, errors: dict[str, Any] | None = None) -> Response:
    """A JSON error for API clients, an error page for people."""
    if wants_json():
        response = jsonify({"message": message, "errors": errors or {}})
    else:
        response = Response(
            render_template("error.html", status=status, message=message, errors=errors or {})
        )
    response.status_code = status
    return response


_HTTP_MESSAGES = {
    400: lambda: _("The request could not be understood."),
    401: lambda: _("Please sign in first."),
    403: lambda: _("You are not allowed to do that."),
    404: lambda: _("Not found."),
    405: lambda: _("This method is not allowed here."),
    409: lambda: _("This conflicts with the current state."),
    413: lambda: _(
        "The upload is too large (at most %(mb)s MB in one request).",
        mb=current_app.config["MAX_CONTENT_LENGTH"] // (1024 * 1024),
    ),
    415: lambda: _("Unsupported content type."),
    422: lambda: _("Some fields are not valid."),
    429: lambda: _("Too many attempts. Please wait a minute and try again."),
    500: lambda: _("Something went wrong on our side. Nothing was saved."),
}


def http_message(status: int) -> str:
    factory = _HTTP_MESSAGES.get(status)
    return factory() if factory else _("Error")


DATABASE_ERRORS = (OperationalError, InterfaceError)


def database_unavailable_response() -> Response:
    """503 with ``Retry-After``: the database dropped or refused the connection (a restart, a
    failover). Nothing was saved, and trying again shortly is safe. A page without the site
    layout, which would need the database again to show who is signed in."""
    message = _("The database is briefly unavailable. Nothing was saved; please try again.")
    if wants_json():
        response = jsonify({"message": message, "errors": {}})
    else:
        retry, home = "", _("Home")
        if request.method == "GET":  # the same page again; a form is re-sent from its page
            again = escape(request.full_path.rstrip("?"))
            try_again = _("Try again")
            retry = f'<a href="{again}">{escape(try_again)}</a> · '
        response = Response(
            f'<!doctype html><html lang="{get_locale() or "zh"}"><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<link rel="stylesheet" href="{url_for("static", filename="css/site.css")}">'
            f'<title>503</title><main class="container"><section class="card error-page">'
            f"<h1>{escape(message)}</h1>"
            f'<p>{retry}<a href="/">{escape(home)}</a></p></section></main></html>',
            mimetype="text/html",
        )
    response.status_code = 503
    response.headers["Retry-After"] = "2"
    return response


def rollback_quietly() -> None:
    """Roll back; on a connection that is already gone, there is nothing to roll back."""
    try:
        db.session.rollback()
    except DATABASE_ERRORS:
        db.remove()


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(OperationalError)
    @app.errorhandler(InterfaceError)
    def handle_database_unavailable(exc: Exception) -> Response:
        app.logger.warning(
            "database unavailable on %s %s: %s", request.method, request.path, type(exc).__name__
        )
        rollback_quietly()
        return database_unavailable_response()

    @app.errorhandler(DomainError)
    def handle_domain_error(exc: DomainError) -> Response:
        db.session.rollback()
        return error_response(exc.status, str(exc.message), exc.errors)

    @app.errorhandler(CSRFError)
    def handle_csrf(exc: CSRFError) -> Response:
        return error_response(
            400, _("The form expired or was not sent from this site. Please try again.")
        )

    @app.errorhandler(HTTPException)
    def handle_http(exc: HTTPException) -> Response:
        status = exc.code or 500
        response = error_response(status, http_message(status))
        if status == 405 and exc.get_response().headers.get("Allow"):
            response.headers["Allow"] = exc.get_response().headers["Allow"]
        return response

    @app.errorhandler(Exception)
    def handle_unexpected(exc: Exception) -> Response:
        # Logged without locals or SQL parameters (the engine hides them), so no
        # household detail reaches the log.
        app.logger.error(
            "unhandled error on %s %s: %s", request.method, request.path, type(exc).__name__
        )
        db.session.rollback()
        return error_response(500, http_message(500))
