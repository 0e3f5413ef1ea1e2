from __future__ import annotations

from azl_kit.settings import ServiceSettings


class NotificationsSettings(ServiceSettings):
    SERVICE = "notifications"
    DEFAULT_HTTP_PORT = 8003
