# One image for every ShopLoop deployable; docker-compose.yml picks the command per service.
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app

# Everything is byte-compiled in the image: the official Python images ship no .pyc files, so each new
# container would otherwise compile every module it imports (the standard library, Faust, pydantic, DuckDB,
# pyarrow…) at its first start — seconds before a sink or collector serves — and at every start where the
# filesystem is read-only. The excluded files are the standard library's deliberately broken test data.
COPY requirements.lock pyproject.toml README.md ./
RUN pip install --no-cache-dir "uv==0.13.9" \
    && uv pip install --system --no-cache -r requirements.lock \
    && python -m compileall -q -j 0 -x 'bad_coding|badsyntax|lib2to3/tests/data' \
        "$(python -c 'import sysconfig; print(sysconfig.get_path("stdlib"))')" \
        "$(python -c 'import sysconfig; print(sysconfig.get_path("purelib"))')"

COPY . .
RUN uv pip install --system --no-cache --no-deps -e . \
    && python -m compileall -q -j 0 shoploop ingestion api streams warehouse dashboards recsys bench

ENV SHOPLOOP_WAREHOUSE_DATA_DIR=/data
VOLUME ["/data"]
ENTRYPOINT ["shoploop"]
