from __future__ import annotations

from azl_kit.settings import ServiceSettings


class ComplaintsSettings(ServiceSettings):
    SERVICE = "complaints"
    DEFAULT_HTTP_PORT = 8004
