"""Safety-map settings, from the environment."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field

from antoan_shared.settings import HealthAuthorityTokenSettings, RedisSettings


class SafetyMapSettings(HealthAuthorityTokenSettings, RedisSettings):
    host: str = Field(default="127.0.0.1", validation_alias="SAFETY_MAP_HOST")
    port: int = Field(default=8003, validation_alias="SAFETY_MAP_PORT")
    redis_prefix: str = Field(default="antoan:", validation_alias="SAFETY_MAP_REDIS_PREFIX")
    # Map tiles are optional: the map works with no tile server (venues over a plain background).
    tile_url: str = Field(default="", validation_alias="SAFETY_MAP_TILE_URL")
    tile_attribution: str = Field(default="", validation_alias="SAFETY_MAP_TILE_ATTRIBUTION")


@lru_cache
def get_settings() -> SafetyMapSettings:
    return SafetyMapSettings()  # required fields come from the environment
