"""One typed settings source: defaults -> environment -> explicit override.

The embedded default (no environment at all) runs on a SQLite file under ``instance/``
with a secret key generated once and kept there. ``SHANLIAN_ENV=production`` turns the
safe defaults into requirements: a missing secret is a start-up error, not a guess.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, get_type_hints

INSTANCE_DIR = Path(__file__).resolve().parent.parent / "instance"


class ConfigError(RuntimeError):
    """A setting is missing or malformed; the message says which and how to fix it."""


def _coerce(name: str, raw: str, kind: Any) -> Any:
    if kind is bool:
        lowered = raw.strip().lower()
        if lowered in {"1", "true", "yes", "on"}:
            return True
        if lowered in {"0", "false", "no", "off", ""}:
            return False
        raise ConfigError(f"{name} must be a boolean (true/false), got {raw!r}")
    if kind is int:
        try:
            return int(raw)
        except ValueError as exc:
            raise ConfigError(f"{name} must be an integer, got {raw!r}") from exc
    if kind is float:
        try:
            return float(raw)
        except ValueError as exc:
            raise ConfigError(f"{name} must be a number, got {raw!r}") from exc
    return raw


@dataclass
class Settings:
    """Every setting the app reads. Field names are the environment variable names."""

    SHANLIAN_ENV: str = "development"  # development | production | testing
    DATABASE_URL: str = ""
    # A read replica for read-only pages (public search, lists, reports); writes and what
    # must read its own writes stay on the primary. Empty: everything on the primary.
    DATABASE_REPLICA_URL: str = ""
    # After a write, this client's reads stay on the primary this long (replication lag).
    REPLICA_STICKY_SECONDS: int = 30
    SECRET_KEY: str = ""
    SEARCH_BACKEND: str = "database"  # database | elasticsearch
    ELASTICSEARCH_URL: str = ""
    # The alias searches and writes go to; each rebuild puts a new index behind it.
    ELASTICSEARCH_INDEX: str = "shanlian-needs"
    ELASTICSEARCH_TIMEOUT: float = 5.0  # seconds per request
    # After Elasticsearch fails, searches use the database index this long before retrying.
    SEARCH_RETRY_SECONDS: int = 30
    # Map tiles for the needs map (Leaflet URL template); the page works without them.
    MAP_TILE_URL: str = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
    MAP_TILE_ATTRIBUTION: str = "© OpenStreetMap contributors"
    # Tile servers for "{s}" in the URL (AutoNavi uses 1234), and the coordinate system the
    # tiles are drawn in: "wgs84" (OpenStreetMap, Tianditu) or "gcj02" (AutoNavi/Gaode,
    # Tencent), for which the map shifts the WGS-84 markers onto the tiles. See the README.
    MAP_TILE_SUBDOMAINS: str = "abc"
    MAP_TILE_COORDS: str = "wgs84"
    REDIS_URL: str = ""
    # Logs: "json" (one object per line, the production default) or "text".
    LOG_FORMAT: str = ""
    LOG_LEVEL: str = "INFO"
    # /readyz reports the outbox as degraded when a due message waited longer than this.
    READY_OUTBOX_MAX_AGE_MINUTES: int = 15
    STRIPE_SECRET_KEY: str = ""
    STRIPE_WEBHOOK_SECRET: str = ""
    STRIPE_API_BASE: str = ""  # another address for Stripe's API (tests use a local stand-in)
    CURRENCY: str = "cny"  # ISO code for Stripe; amounts are kept in its smallest unit
    MAIL_SERVER: str = ""
    MAIL_PORT: int = 25
    MAIL_FROM: str = "善联 <noreply@shanlian.example>"
    MAIL_USERNAME: str = ""
    MAIL_PASSWORD: str = ""
    MAIL_USE_TLS: bool = False  # STARTTLS after connecting
    # Send email right after commit in the request's thread (tests, tiny installs); otherwise
    # a background thread, or an RQ job when REDIS_URL is set.
    MAIL_DELIVER_INLINE: bool = False
    # The public address of the site, for links in emails (never taken from a request).
    SITE_URL: str = "http://127.0.0.1:5000"
    # Login throttling; flask-limiter syntax. Stored in Redis when REDIS_URL is set.
    LOGIN_RATE_LIMIT: str = "10 per minute"
    RATELIMIT_ENABLED: bool = True
    # Public locations are snapped to the centre of a grid cell this many degrees wide
    # (0.05 deg is about 5 km): enough to find needs nearby, too coarse to find a door.
    APPROX_GRID_DEG: float = 0.05
    # Ordinary repairs are capped (Shunde: 80,000 yuan); above it a supervisor must approve
    # an exception (一事一议) before the need can be published.
    REPAIR_COST_CAP_YUAN: int = 80_000
    API_TOKEN_MAX_AGE_SECONDS: int = 3600
    PAGE_SIZE: int = 20
    # Claims: days a claimer has to deliver, per kind of need, before the sweep releases it.
    CLAIM_DAYS_MICRO_WISH: int = 7
    CLAIM_DAYS_REPAIR: int = 45
    # Traffic lights, per kind: yellow when published and unclaimed this many days, or when
    # nothing happened this many days; red when nothing happened for the red limit.
    YELLOW_UNCLAIMED_DAYS_MICRO_WISH: int = 7
    YELLOW_UNCLAIMED_DAYS_FARM_HELP: int = 5
    YELLOW_UNCLAIMED_DAYS_REPAIR: int = 14
    YELLOW_IDLE_DAYS: int = 7
    RED_IDLE_DAYS_MICRO_WISH: int = 21
    RED_IDLE_DAYS_FARM_HELP: int = 14
    RED_IDLE_DAYS_REPAIR: int = 45
    # A need whose claim lapsed stays red this long, until someone claims it again.
    RED_AFTER_OVERDUE_DAYS: int = 14
    # Share of repair jobs drawn for a supervisor's spot inspection (Shunde: at least 30%).
    INSPECTION_SHARE: float = 0.3
    FOLLOW_UP_DAYS: int = 14
    UPLOAD_DIR: str = ""
    # Uploads in an S3-compatible object store (s3://bucket[/prefix]) instead of UPLOAD_DIR;
    # credentials from boto3's chain (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, a role).
    STORAGE_URL: str = ""
    STORAGE_ENDPOINT_URL: str = ""  # a store other than AWS (MinIO, Ceph, OSS)
    STORAGE_REGION: str = ""
    STORAGE_SIGNED_URL_SECONDS: int = 60  # how long a photo's signed URL works
    UPLOAD_MAX_BYTES: int = 5 * 1024 * 1024
    SWEEP_INTERVAL_MINUTES: int = 15
    # How often the worker rebuilds the report rollups (app/reports/rollups.py).
    REPORT_REFRESH_MINUTES: int = 60
    # Points (Futian: donations turn into points; Yunan: points for help, a points shop).
    POINTS_PER_10_YUAN: int = 1  # confirmed donations and fulfilled needs, by value
    POINTS_PER_HOUR: int = 10  # confirmed volunteer hours, to the member and to the team
    POINTS_BONUS_RED: int = 20  # for helping a need that had turned red
    POINTS_BONUS_URGENT: int = 10  # for helping a need marked high or critical urgency
    POINTS_PER_PICKUP: int = 2  # to the provider, for each pickup code really redeemed
    # Offers (M餐): pickups a person may book before a caseworker links them to a household;
    # bookings per household (or person) per day and per ISO week; how many days ahead meal
    # windows open; how early a code may be used and how long after its window it stays valid.
    OFFER_UNVERIFIED_PICKUPS: int = 3
    OFFER_BOOKINGS_PER_DAY: int = 2
    OFFER_BOOKINGS_PER_WEEK: int = 7
    OFFER_DAYS_AHEAD: int = 7
    OFFER_EARLY_MINUTES: int = 30
    OFFER_GRACE_MINUTES: int = 30
    # Resource pool: days a reservation waits at the station before its goods go back.
    POOL_HOLD_DAYS: int = 7
    # Points older than this many months lapse at the year-end run; 0 keeps them forever.
    POINTS_EXPIRE_MONTHS: int = 0
    # Household lights (app.households.lights): yellow when a visit is due within this many
    # days or a need found on a visit has no draft after this many; red when a found need
    # has had no help for this many days (an overdue visit is always red).
    HOUSEHOLD_DUE_SOON_DAYS: int = 7
    HOUSEHOLD_FOUND_NO_DRAFT_DAYS: int = 3
    HOUSEHOLD_FOUND_NO_HELP_DAYS: int = 30
    # Points for the people who visit (Yunan): a logged visit a supervisor did not reject,
    # an agent's application that became confirmed help.
    POINTS_PER_VISIT: int = 5
    POINTS_PER_APPLICATION: int = 20
    # Argon2 cost; tests lower it so that hashing does not dominate the suite.
    PASSWORD_HASH_MEMORY_KIB: int = 65536
    PASSWORD_HASH_TIME_COST: int = 3
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(
        cls,
        environ: Mapping[str, str] | None = None,
        override: Mapping[str, Any] | None = None,
    ) -> Settings:
        """Build settings from defaults, then ``environ``, then ``override``."""
        environ = os.environ if environ is None else environ
        override = dict(override or {})
        hints = get_type_hints(cls)
        values: dict[str, Any] = {}
        for f in fields(cls):
            if f.name == "extra":
                continue
            if f.name in override:
                values[f.name] = override.pop(f.name)
            elif f.name in environ:
                values[f.name] = _coerce(f.name, environ[f.name], hints[f.name])
        settings = cls(**values, extra=override)
        settings._fill_embedded_defaults()
        settings._check()
        return settings

    @property
    def is_production(self) -> bool:
        return self.SHANLIAN_ENV == "production"

    def _fill_embedded_defaults(self) -> None:
        if not self.DATABASE_URL:
            if self.is_production:
                raise ConfigError("DATABASE_URL is required when SHANLIAN_ENV=production")
            INSTANCE_DIR.mkdir(exist_ok=True)
            self.DATABASE_URL = f"sqlite:///{INSTANCE_DIR / 'shanlian.sqlite3'}"
        if not self.LOG_FORMAT:
            self.LOG_FORMAT = "json" if self.is_production else "text"
        if not self.UPLOAD_DIR:
            # Outside the web root: files are served only through a permission check.
            self.UPLOAD_DIR = str(INSTANCE_DIR / "uploads")
        if not self.SECRET_KEY:
            if self.is_production:
                raise ConfigError(
                    "SECRET_KEY is required when SHANLIAN_ENV=production; "
                    'generate one with: python -c "import secrets; print(secrets.token_hex(32))"'
                )
            self.SECRET_KEY = _instance_secret_key()
        # SQLAlchemy wants an explicit driver for PostgreSQL; accept the common spellings.
        for prefix in ("postgres://", "postgresql://"):
            if self.DATABASE_URL.startswith(prefix):
                self.DATABASE_URL = "postgresql+psycopg://" + self.DATABASE_URL[len(prefix) :]
            if self.DATABASE_REPLICA_URL.startswith(prefix):
                self.DATABASE_REPLICA_URL = (
                    "postgresql+psycopg://" + self.DATABASE_REPLICA_URL[len(prefix) :]
                )

    def _check(self) -> None:
        if self.SHANLIAN_ENV not in {"development", "production", "testing"}:
            raise ConfigError(
                "SHANLIAN_ENV must be development, production or testing, "
                f"got {self.SHANLIAN_ENV!r}"
            )
        if self.LOG_FORMAT not in {"json", "text"}:
            raise ConfigError(f"LOG_FORMAT must be json or text, got {self.LOG_FORMAT!r}")
        if self.SEARCH_BACKEND not in {"database", "elasticsearch"}:
            raise ConfigError(
                f"SEARCH_BACKEND must be database or elasticsearch, got {self.SEARCH_BACKEND!r}"
            )
        if self.SEARCH_BACKEND == "elasticsearch" and not self.ELASTICSEARCH_URL:
            raise ConfigError("SEARCH_BACKEND=elasticsearch needs ELASTICSEARCH_URL")
        if not self.ELASTICSEARCH_TIMEOUT > 0:
            raise ConfigError(
                f"ELASTICSEARCH_TIMEOUT must be a positive number, got {self.ELASTICSEARCH_TIMEOUT}"
            )
        if not 0.0 <= self.INSPECTION_SHARE <= 1.0:
            raise ConfigError(
                f"INSPECTION_SHARE must be between 0 and 1, got {self.INSPECTION_SHARE}"
            )
        if self.STORAGE_URL and not self.STORAGE_URL.startswith(("s3://", "file:///")):
            raise ConfigError(
                "STORAGE_URL must be s3://bucket[/prefix] or file:///folder, "
                f"got {self.STORAGE_URL!r}"
            )
        if self.is_production and len(self.SECRET_KEY) < 32:
            raise ConfigError("SECRET_KEY must be at least 32 characters in production")

    def flask_config(self) -> dict[str, Any]:
        """The mapping handed to ``app.config``."""
        config = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "extra"}
        config.update(
            SESSION_COOKIE_HTTPONLY=True,
            SESSION_COOKIE_SAMESITE="Lax",
            SESSION_COOKIE_SECURE=self.is_production,
            REMEMBER_COOKIE_HTTPONLY=True,
            REMEMBER_COOKIE_SECURE=self.is_production,
            REMEMBER_COOKIE_SAMESITE="Lax",
            WTF_CSRF_TIME_LIMIT=None,
            WTF_I18N_ENABLED=True,
            # Whole request bodies (a CSV or a few photos); single files are capped lower.
            MAX_CONTENT_LENGTH=max(20 * 1024 * 1024, self.UPLOAD_MAX_BYTES * 4),
            BABEL_DEFAULT_LOCALE="zh",
            BABEL_TRANSLATION_DIRECTORIES=str(INSTANCE_DIR.parent / "translations"),
            BABEL_DEFAULT_TIMEZONE="Asia/Shanghai",
            RATELIMIT_STORAGE_URI=self.REDIS_URL or "memory://",
            # Redis down: each node counts in its own memory until it returns, rather than
            # refusing sign-ins (documented in the README).
            RATELIMIT_IN_MEMORY_FALLBACK_ENABLED=True,
            RATELIMIT_SWALLOW_ERRORS=True,
            RATELIMIT_STORAGE_OPTIONS={"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
            RATELIMIT_HEADERS_ENABLED=True,
            TESTING=self.SHANLIAN_ENV == "testing",
        )
        config.update(self.extra)
        return config


def _instance_secret_key() -> str:
    """A key generated on first start and kept, so sessions survive restarts."""
    INSTANCE_DIR.mkdir(exist_ok=True)
    path = INSTANCE_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()
