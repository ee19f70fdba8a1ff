# One image for every coursesync process (worker, beat, api, flower, metrics, sandbox).
FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY workers workers
COPY producers producers
COPY schemas schemas
COPY sandbox sandbox
COPY coursesync coursesync
COPY api api
COPY scripts scripts
RUN pip install --no-cache-dir . && useradd --create-home coursesync \
    && mkdir -p /var/lib/coursesync/catalogs && chown coursesync /var/lib/coursesync/catalogs
USER coursesync
# api, flower, sandbox, metrics (workers and beat listen on nothing: they talk to Redis only)
EXPOSE 8000 5555 8765 9808
CMD ["scripts/start", "worker"]
