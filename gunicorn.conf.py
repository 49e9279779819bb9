"""The web server's settings, read by gunicorn from the working directory: `make run`, the Docker
image, Compose and the benchmark all serve with these (flags on the command line win).

Two processes of four threads: the status endpoint is mostly waiting on Redis and the database, so
threads carry the polling load, and a second process keeps one slow request from stalling the rest."""
import os

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_WORKERS", "2"))
threads = int(os.environ.get("WEB_THREADS", "4"))
accesslog = os.environ.get("WEB_ACCESS_LOG", "-") or None  # "" turns it off (the benchmark's load test)
