# One image for every coursesync process (worker, beat, flower, sandbox).
FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY workers workers
COPY producers producers
COPY schemas schemas
COPY sandbox sandbox
COPY coursesync coursesync
COPY scripts scripts
RUN pip install --no-cache-dir . && useradd --create-home coursesync
USER coursesync
CMD ["scripts/start", "worker"]
