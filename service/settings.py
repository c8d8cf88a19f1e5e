"""All runtime configuration, read once from the environment (prefix ``CATALOG_``)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CATALOG_", env_file=".env", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    database_url: str = Field(
        default="sqlite:///./indicator-catalog.db",
        description="SQLAlchemy URL: sqlite:///path.db (embedded default) or postgresql+psycopg://…",
    )
    seed: bool = Field(default=True, description="Load the bundled seed library into an empty database")
    host: str = "127.0.0.1"
    port: int = 8000

    neo4j_uri: str | None = Field(default=None, description="bolt://host:port; unset → embedded graph")
    neo4j_user: str = "neo4j"
    neo4j_password: SecretStr = SecretStr("")
    neo4j_database: str = "neo4j"

    public_read: bool = Field(
        default=False, description="Anonymous callers may read published indicators and reference data"
    )
    key_cache_seconds: float = Field(
        default=5.0, ge=0, description="How long a verified key is trusted before it is read again"
    )
    key_use_flush_seconds: float = Field(
        default=30.0, gt=0, description="How often the keys' last use is written (in the background)"
    )

    cookie_secure: bool = Field(
        default=True, description="The web log-in cookie only travels over HTTPS (browsers exempt localhost)"
    )
    page_origin: str | None = Field(
        default=None,
        description="The pages' origin as browsers see it (https://catalog.example.gov.cn), when a proxy in "
        "front changes the Host or scheme; unset: the request's own. Unsafe page requests from elsewhere are refused",
    )
    login_hours: int = Field(default=12, ge=1, le=24 * 30, description="How long a web log-in lasts")

    max_upload_bytes: int = 50 * 1024 * 1024
    max_body_bytes: int = Field(
        default=10 * 1024 * 1024, ge=1024, description="Cap on any request body other than a file upload"
    )
    body_read_seconds: float = Field(
        default=60.0,
        gt=0,
        description="How long a request body may take to arrive (from the request's start); later: 408",
    )
    cors_origins: list[str] = Field(
        default_factory=list,
        description="Browser origins allowed to call the API (JSON list); empty: no cross-origin calls",
    )
    suggest_rate_per_minute: int = Field(
        default=3000, ge=0, description="Suggestions per minute per key (per worker); 0 switches the limit off"
    )
    suggest_burst: int = Field(default=100, ge=1, description="Suggestions a key may make at once")
    page_size_max: int = 200
    seed_dir: Path | None = None

    @model_validator(mode="after")
    def _production_needs_real_services(self) -> Settings:
        # The embedded default is for development; production must name a real database.
        if self.environment == "production" and self.database_url.startswith("sqlite"):
            raise ValueError("CATALOG_DATABASE_URL must point at PostgreSQL in production")
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")
