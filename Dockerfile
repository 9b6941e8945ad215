# The mta_assets code location, served over gRPC to a Dagster webserver and daemon (Dagster+ or
# self-hosted) on port 4000.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /opt/mta_assets

# Pinned dependencies first (requirements.lock, frozen from the project's metadata), so code changes
# do not reinstall them; then the project itself without resolving anything again. The project is
# installed editable, as `dg` projects are deployed: the definitions load from mta_assets/defs through
# the [tool.dg] settings in the pyproject.toml beside the package.
COPY requirements.lock ./
RUN pip install --no-cache-dir -r requirements.lock
COPY pyproject.toml README.md ./
COPY mta_assets ./mta_assets
RUN pip install --no-cache-dir --no-deps -e . \
    && useradd --create-home --uid 10001 dagster \
    && mkdir data && chown 10001 data

USER 10001
EXPOSE 4000
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s \
    CMD ["dagster", "api", "grpc-health-check", "-p", "4000"]
CMD ["dagster", "code-server", "start", "-h", "0.0.0.0", "-p", "4000", "-m", "mta_assets.definitions"]
