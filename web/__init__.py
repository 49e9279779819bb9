"""The web tier: an app factory, HTML pages and the JSON API. Never imports TensorFlow."""
from __future__ import annotations

from typing import Any

from flask import Flask
from flask_wtf.csrf import CSRFProtect

from shared import storage
from shared.settings import Settings
from web.analyses import api as analyses_api
from web.analyses import pages as analyses_pages
from web.batches import api as batches_api
from web.batches import pages as batches_pages
from web.core import (apidocs, auth, commands, db, errors, forms, health, metrics, openapi, params, queue, ratelimit,
                      security)
from web.core.blueprints import is_api
from web.core.forms import StrictRequest
from web.evaluation import api as evaluation_api
from web.evaluation import pages as evaluation_pages
from web.reanalysis import api as reanalysis_api
from web.reanalysis import pages as reanalysis_pages
from web.reports import api as reports_api
from web.reports import pages as reports_pages
from web.review import api as review_api
from web.review import pages as review_pages

csrf = CSRFProtect()

# every route the app serves: each capability's pages and its part of API v1, then what cuts across them
BLUEPRINTS = (
    analyses_pages.bp, analyses_api.bp,
    batches_pages.bp, batches_api.bp,
    review_pages.bp, review_api.bp,
    reports_pages.bp, reports_api.bp,
    reanalysis_pages.bp, reanalysis_api.bp,
    evaluation_pages.bp, evaluation_api.bp,
    openapi.bp, apidocs.bp, health.bp, metrics.bp,
)


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
    for bp in BLUEPRINTS:
        if is_api(bp.name):
            csrf.exempt(bp)  # the API is not used by browser forms
        app.register_blueprint(bp)
    metrics.init_app(app)
    return app
