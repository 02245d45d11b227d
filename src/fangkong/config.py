"""Settings, read from the environment (``FANGKONG_*``) once per process."""

from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

VAR_DIR = Path("var")


class Settings(BaseSettings):
    """Deployment configuration; every field maps to ``FANGKONG_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="FANGKONG_", extra="ignore")

    database_url: str = Field(default=f"sqlite:///{VAR_DIR / 'fangkong.db'}")
    secret_key: str = ""
    data_dir: Path = VAR_DIR / "data"
    default_locale: str = "zh_CN"
    timezone: str = "Asia/Shanghai"
    # The rule set (防控方案) the outbreak runs under: a file of src/fangkong/rulesets.
    ruleset: str = "protocol-8"
    # Login throttling: failures allowed per user name (and, more loosely, per address) in the window.
    login_max_failures: int = 5
    login_max_failures_per_address: int = 30
    login_window_minutes: int = 15
    session_hours: int = 12
    # Set the Secure flag on cookies always, not only when the request came over HTTPS.
    cookie_secure: bool = False
    run_jobs_in_process: bool = True

    def resolved_secret_key(self) -> str:
        """The secret key, generated into ``var/secret_key`` on first use when not configured."""
        if self.secret_key:
            return self.secret_key
        path = VAR_DIR / "secret_key"
        if path.exists():
            return path.read_text().strip()
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        path.write_text(key)
        path.chmod(0o600)
        return key


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings."""
    return Settings()
