# One image for web and worker; the services differ only by command (see docker-compose.yml).
FROM python:3.11-slim-bookworm
RUN apt-get update && apt-get install -y --no-install-recommends libimage-exiftool-perl \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY requirements.txt requirements-nodeps.txt ./
ARG TF_PACKAGE=""
RUN pip install --no-cache-dir -r requirements.txt \
    && pip install --no-cache-dir --no-deps -r requirements-nodeps.txt \
    && if [ -n "$TF_PACKAGE" ]; then pip uninstall -y tensorflow-cpu && pip install --no-cache-dir "$TF_PACKAGE"; fi
COPY . .
RUN pip install --no-cache-dir --no-deps -e . && useradd --create-home app && mkdir -p /data && chown app /data
USER app
ENV DATA_DIR=/data UPLOAD_DIR=/data/uploads APP_ENV=production
EXPOSE 8000
CMD ["gunicorn", "--bind", "0.0.0.0:8000", "web:create_app()"]
