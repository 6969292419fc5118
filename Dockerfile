# One image for every ShopLoop deployable; docker-compose.yml picks the command per service.
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app

COPY requirements.lock pyproject.toml README.md ./
RUN pip install --no-cache-dir "uv==0.13.9" \
    && uv pip install --system --no-cache -r requirements.lock

COPY . .
RUN uv pip install --system --no-cache --no-deps -e .

ENV SHOPLOOP_WAREHOUSE_DATA_DIR=/data
VOLUME ["/data"]
ENTRYPOINT ["shoploop"]
