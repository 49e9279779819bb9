"""The web tier: an app factory, HTML pages and the JSON API. Never imports TensorFlow."""
from __future__ import annotations

from typing import Any

from flask import Flask
from flask_wtf.csrf import CSRFProtect

from shared import storage
from shared.settings import Settings
from web.core.forms import StrictRequest

csrf = CSRFProtect()


def create_app(overrides: dict[str, Any] | None = None) -> Flask:
    """Build the app: settings from the environment (overrides win), extensions, blueprints."""
    settings = Settings.from_env(**(overrides or {}))
    app = Flask(__name__)
    app.request_class = StrictRequest
    app.config.update(
        SETTINGS=settings,
        SECRET_KEY=settings.secret_key,
        # the largest request (a batch); single uploads lower it per request, exact limits apply while streaming
        MAX_CONTENT_LENGTH=max(settings.max_batch_bytes, settings.max_upload_bytes) + 1024 * 1024,
        WTF_CSRF_TIME_LIMIT=None,
    )
    # the folder or bucket client, built once per process; copies a killed process left behind go
    storage.store_for(settings).prune_scratch(settings.scratch_max_age_s)

    from web.analyses import pages_data  # noqa: F401 - register routes
    from web.core import openapi
    from web.batches import api as api_batches
    from web.review import api as api_review
    from web.review import pages as pages_review
    from web.reports import api as api_report  # noqa: F401 - an analysis's report (issue 13)
    from web.reports import pages as pages_report
    from web.batches import pages as pages_batches  # noqa: F401 - the batch pages' routes
    from web.reanalysis import api as api_reanalysis  # noqa: F401 - register routes
    from web.reanalysis import pages as pages_reanalysis
    from web.core import auth, commands, db, errors, forms, params, queue, ratelimit, security
    from web.analyses.api import bp as api_bp
    from web.core.health import bp as health_bp
    from web.analyses.pages import bp as pages_bp

    security.init_app(app)  # the Host check first: nothing else runs for a host this server is not
    db.init_app(app)
    auth.init_app(app)
    commands.init_app(app)
    queue.init_app(app)
    forms.init_app(app)
    csrf.init_app(app)
    params.init_app(app)
    ratelimit.init_app(app)  # after the NUL check: its key lookup reads the header
    errors.init_app(app)
    csrf.exempt(api_bp)  # the API is not used by browser forms
    app.register_blueprint(pages_bp)
    app.register_blueprint(api_bp)
    app.register_blueprint(health_bp)

    from web.core import metrics  # /metrics (issue 12)

    metrics.init_app(app)
    return app
