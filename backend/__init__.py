"""Linli (邻里): the backend of a community volunteer mini-program."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.sessions import SessionInterface

from backend.config import load_settings


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Application factory (SPEC §1): settings from the environment, ``config`` on top."""
    app = Flask(__name__, instance_relative_config=True)
    app.config.update(load_settings(config))
    app.json.ensure_ascii = False
    if app.config["PROXY_COUNT"]:
        from werkzeug.middleware.proxy_fix import ProxyFix

        count = app.config["PROXY_COUNT"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count, x_host=count)

    from backend import cli, database, errors, jobs, schedule
    from backend.auth.services import known_user_id, require_login_for_api, verified_user_id
    from backend.checkin.checks import service_transfers_check
    from backend.common import bodies, idempotency, observability, replica
    from backend.common.converters import (
        IdConverter,
        MonthConverter,
        VerificationCodeConverter,
        id_parameter_schema,
        month_parameter_schema,
        verification_code_parameter_schema,
    )
    from backend.communities import access
    from backend.communities.services import on_join
    from backend.extensions import api, db, migrate
    from backend.gifts.checks import redeem_transfers_check
    from backend.notify.outbox import counts_by_status
    from backend.notify.tasks import install_relay
    from backend.parking.checks import duty_transfers_check
    from backend.points.ledger import open_resident_account
    from backend.points.reconciliation import register_backing_check

    database.configure_engine_options(app)
    db.init_app(app)
    database.release_session_quietly(app, db.session)  # after db.init_app: runs before it
    migrate.init_app(app, db, directory=_migrations_dir())
    with app.app_context():
        database.install_engine_hooks(db.engines, app.config["DATABASE_PING_AFTER_IDLE_S"])
    replica.init_app(app)  # reports read from the replica when one is configured
    app.url_map.converters["id"] = IdConverter
    app.url_map.converters["month"] = MonthConverter
    app.url_map.converters["verification_code"] = VerificationCodeConverter
    api.init_app(app)
    api.register_converter(IdConverter, id_parameter_schema)
    api.register_converter(MonthConverter, month_parameter_schema)
    api.register_converter(VerificationCodeConverter, verification_code_parameter_schema)
    api.spec.components.security_scheme(
        "bearerAuth", {"type": "http", "scheme": "bearer", "bearerFormat": "token"}
    )
    _register_blueprints(api)
    errors.register_error_handlers(app)
    # First of the request hooks: a request another hook refuses is still timed and logged.
    observability.init_app(app, user_id=known_user_id)
    _register_gauges(app, observability, counts_by_status, jobs, schedule, replica)
    app.before_request(require_login_for_api)
    access.register(app)  # another community's team: 404 before its arguments are read
    bodies.register(app)  # after the login check (no token: 401 whatever the body)
    # Callers authenticate with bearer tokens; no cookie session is opened per request.
    app.session_interface = NoCookieSessions()
    idempotency.register(app, user_id=verified_user_id)  # a revoked token: 401, no replay
    install_relay()
    # Lower layers learn what the domains above them add (registration, not imports).
    for check in (redeem_transfers_check, service_transfers_check, duty_transfers_check):
        register_backing_check(check)
    on_join("points.resident_account", open_resident_account)
    cli.register(app)
    if app.config["MOCK_PAGES"]:
        # The mock pages log in through the mock platform's /_mock/login-code.
        from backend.miniprogram import bp as miniprogram

        app.register_blueprint(miniprogram)

    @app.get("/healthz")
    def healthz():
        return {"status": "ok"}

    return app


class NoCookieSessions(SessionInterface):
    """Flask's session, always the empty null session: nothing parsed, signed or set."""

    def open_session(self, app: Flask, request: Any) -> None:
        return None  # Flask then uses make_null_session()

    def save_session(self, app: Flask, session: Any, response: Any) -> None:
        pass


def _register_blueprints(api) -> None:
    from backend.activities.routes import blp as activities
    from backend.auth.routes import blp as auth
    from backend.checkin.routes import blp as checkin
    from backend.communities.routes import blp as communities
    from backend.gifts.routes import blp as gifts
    from backend.notify.routes import blp as notify
    from backend.parking.routes import blp as parking
    from backend.points.routes import blp as points
    from backend.voice.routes import blp as voice

    for blueprint in (auth, communities, activities, checkin, notify, points, gifts,
                      parking, voice):
        api.register_blueprint(blueprint, url_prefix="/api/v1")
    from backend.voice.street_routes import blp as street  # the street's view (SPEC §9a)
    api.register_blueprint(street, url_prefix="/api/v1")


def _register_gauges(app: Flask, observability, outbox_counts, jobs, schedule,
                     replica) -> None:
    """The scrape-time gauges and readiness checks the domains, the jobs layer and the
    replica add (docs/operations.md, "Watching it")."""
    observability.register_gauge(
        app, "linli_outbox_notifications", "Outbox rows per status (pending, sending, failed)",
        ["status"], outbox_counts)
    observability.register_gauge(
        app, "linli_rq_queue_depth", "Jobs waiting in each RQ queue", ["queue"],
        jobs.queue_depths)
    observability.register_gauge(
        app, "linli_periodic_last_success_timestamp_seconds",
        "Unix time each periodic job (backend/schedule.py) last succeeded", ["job"],
        jobs.periodic_successes)
    observability.register_gauge(
        app, "linli_periodic_interval_seconds", "How often each periodic job is due", ["job"],
        lambda: schedule.intervals(app))
    if replica.EXTENSION in app.extensions:
        observability.register_gauge(
            app, "linli_replica_lag_seconds",
            "How far the reports' replica is behind the primary, in seconds", [],
            replica.lag_gauge)
        # Not required: without the replica, reports read the primary and the node serves on.
        observability.register_ready_check(app, "replica", replica.ready_check, required=False)


def _migrations_dir() -> str:
    import os

    return os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "migrations")
