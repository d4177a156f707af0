"""善联: create_app wires settings, extensions and blueprints together."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask, Response, g, request
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError
from werkzeug.routing import IntegerConverter

from app.config import INSTANCE_DIR, Settings
from app.extensions import babel, csrf, db, limiter, login_manager, select_locale

MAX_ROW_ID = 2**31 - 1  # INTEGER primary keys on PostgreSQL


def create_app(config_override: Mapping[str, Any] | None = None) -> Flask:
    """Build the application. ``config_override`` wins over the environment (tests use it)."""
    settings = Settings.load(override=config_override)
    app = Flask(
        __name__,
        instance_path=str(INSTANCE_DIR),
        template_folder="../templates",
        static_folder="../static",
    )
    app.config.from_mapping(settings.flask_config())
    app.config["SETTINGS"] = settings
    from app.core import logs, metrics, requestid

    logs.configure_logging(app)
    requestid.init_app(app)

    db.init_app(app)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    limiter.init_app(app)
    login_manager.init_app(app)
    _configure_login()

    app.url_map.converters["int"] = RowIdConverter
    _register_blueprints(app)
    metrics.init_app(app)
    _register_request_transaction(app)
    from app.errors import register_error_handlers

    register_error_handlers(app)
    from app.cli import register_cli

    register_cli(app)
    from app.templating import register_template_helpers

    register_template_helpers(app)
    from app import events, statemachine  # noqa: F401 - statemachine guards every session

    events.connect_handlers()
    return app


def _up_to(limit: int) -> str:
    """A regular expression for the decimal numbers 0..``limit`` (no sign)."""
    digits = str(limit)
    options = [f"[0-9]{{1,{len(digits) - 1}}}"] if len(digits) > 1 else []
    for i, digit in enumerate(digits):
        rest = len(digits) - i - 1
        low = "1" if i == 0 else "0"
        if int(digit) > int(low):
            upper = str(int(digit) - 1)
            options.append(f"{digits[:i]}[{low}-{upper}][0-9]{{{rest}}}")
    options.append(digits)
    return "|".join(f"(?:{o})" for o in options)


class RowIdConverter(IntegerConverter):
    """``<int:...>`` in a URL is a row id: beyond the INTEGER column there is no row (404),
    rather than a database error. The limit is in the pattern itself: a number past it
    matches no route at all, so the answer is 404 whatever the method (checked only after
    matching, werkzeug would answer 405 where another method shares the path)."""

    def __init__(self, url_map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_ROW_ID)
        super().__init__(url_map, *args, **kwargs)
        self.regex = _up_to(int(kwargs["max"]))


def _configure_login() -> None:
    from app.accounts.models import User, Visitor

    login_manager.anonymous_user = Visitor
    login_manager.login_view = "accounts.login"
    login_manager.login_message = None  # the login page explains itself
    login_manager.session_protection = "strong"

    @login_manager.user_loader
    def load_user(user_id: str) -> User | None:
        return db.session.get(User, int(user_id)) if user_id.isdigit() else None


def _register_blueprints(app: Flask) -> None:
    from app.accounts.views import admin_bp
    from app.accounts.views import bp as accounts_bp
    from app.api import caseworker  # noqa: F401 - its routes join the API blueprint
    from app.api.views import bp as api_bp
    from app.browse.views import public_bp
    from app.claims.views import bp as claims_bp
    from app.core.views import bp as core_bp
    from app.donations.views import bp as donations_bp
    from app.households.views import bp as households_bp
    from app.intake.views import bp as intake_bp
    from app.matching.views import bp as matching_bp
    from app.notifications.views import bp as notifications_bp
    from app.offers.views import bp as offers_bp
    from app.payments.views import bp as payments_bp
    from app.points.views import bp as points_bp
    from app.reports import api as _reports_api  # noqa: F401 - adds /api/v1/reports/* to the API
    from app.reports.views import bp as reports_bp
    from app.reports.views import public_bp as transparency_bp
    from app.shifts.views import bp as shifts_bp
    from app.supervision.views import bp as supervision_bp
    from app.uploads.views import bp as uploads_bp
    from app.work.views import work_bp

    for blueprint in (
        core_bp,
        accounts_bp,
        admin_bp,
        public_bp,
        work_bp,
        supervision_bp,
        uploads_bp,
        claims_bp,
        shifts_bp,
        donations_bp,
        notifications_bp,
        points_bp,
        matching_bp,
        payments_bp,
        households_bp,
        intake_bp,
        reports_bp,
        transparency_bp,
        offers_bp,
    ):
        app.register_blueprint(blueprint)
    from app.offers import api as _offers_api  # noqa: F401 - its routes join the API blueprint

    app.register_blueprint(api_bp)  # at /api/v1, its own prefix
    csrf.exempt(api_bp)  # API requests carry a bearer token, not a cookie


def _register_request_transaction(app: Flask) -> None:
    """The request owns the transaction: commit once at the end, or roll back."""
    from app.core import replica

    replica.init_app(app)

    @app.after_request
    def commit_or_rollback(response: Response) -> Response:
        from app.errors import DATABASE_ERRORS, database_unavailable_response, rollback_quietly

        session = db.session
        if response.status_code >= 400 or g.get("rollback_only"):
            rollback_quietly()
            return response
        try:
            session.commit()
            response = replica.after_commit(response)
        except DATABASE_ERRORS as error:
            # The connection died at COMMIT (a restart, a failover). PostgreSQL either
            # committed the whole transaction or none of it; a retry of a committed claim
            # answers 409 with the claim already the client's.
            app.logger.warning(
                "commit failed on %s %s: %s", request.method, request.path, type(error).__name__
            )
            rollback_quietly()
            return database_unavailable_response()
        except IntegrityError:
            session.rollback()
            from app.errors import error_response

            app.logger.warning("integrity conflict on %s %s", request.method, request.path)
            return error_response(
                409,
                _(
                    "This conflicts with a change made a moment ago. "
                    "Nothing was saved; please try again."
                ),
            )
        return response
