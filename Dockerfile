# Production image: PostgreSQL by CATALOG_DATABASE_URL, Neo4j by CATALOG_NEO4J_URI.
# Not exercised on the development machines (no Docker engine there); see README.
FROM python:3.12-slim AS build
WORKDIR /src
COPY pyproject.toml constraints.txt README.md alembic.ini ./
COPY service ./service
COPY graph ./graph
COPY loaders ./loaders
RUN pip wheel --no-cache-dir --wheel-dir /wheels -c constraints.txt .

FROM python:3.12-slim
RUN useradd --create-home --uid 10001 catalog
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
USER catalog
WORKDIR /home/catalog
ENV CATALOG_ENVIRONMENT=production \
    CATALOG_HOST=0.0.0.0 \
    CATALOG_PORT=8000
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/ready', timeout=4).status == 200 else 1)"
CMD ["indicator-catalog", "serve", "--workers", "4"]
