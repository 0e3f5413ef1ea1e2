from __future__ import annotations

from azl_kit.settings import ServiceSettings


class FeesSettings(ServiceSettings):
    SERVICE = "fees"
    DEFAULT_HTTP_PORT = 8002
