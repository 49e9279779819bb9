# The object store of docker-compose.yml (`target: objectstore`): Ceph's radosgw on a one-node cluster, started
# by the same script and from the same Debian packages as the tests' S3 server (scripts/s3-server.sh).
FROM debian:bookworm-slim AS objectstore
RUN apt-get update && apt-get install -y --no-install-recommends ceph-mon ceph-osd radosgw \
    && rm -rf /var/lib/apt/lists/*
COPY scripts/s3-server.sh /usr/local/bin/s3-server.sh
# bluestore: the objects live in a file on the volume and outlast a restart
ENV S3_BIND=0.0.0.0 S3_PORT=7480 S3_OBJECTSTORE=bluestore
EXPOSE 7480
CMD ["s3-server.sh", "/var/lib/s3"]

# One image for web and worker; the services differ only by command (see docker-compose.yml). The last stage,
# so a plain `docker build .` builds it.
FROM python:3.11-slim-bookworm AS app
RUN apt-get update && apt-get install -y --no-install-recommends libimage-exiftool-perl \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY requirements.txt requirements-nodeps.txt ./
ARG TF_PACKAGE=""
# --no-warn-conflicts: requirements-nodeps.txt leaves its declared opencv-python and torch unmet on purpose
# (scripts/deps_check.sh says why); pip would print that as an ERROR on every install after it
RUN pip install --no-cache-dir -r requirements.txt \
    && pip install --no-cache-dir --no-warn-conflicts --no-deps -r requirements-nodeps.txt \
    && if [ -n "$TF_PACKAGE" ]; then pip uninstall -y tensorflow-cpu && pip install --no-cache-dir --no-warn-conflicts "$TF_PACKAGE"; fi
COPY . .
RUN pip install --no-cache-dir --no-deps -e . && useradd --create-home app && mkdir -p /data && chown app /data
USER app
ENV DATA_DIR=/data UPLOAD_DIR=/data/uploads APP_ENV=production
EXPOSE 8000
CMD ["gunicorn", "--bind", "0.0.0.0:8000", "web:create_app()"]
