from azl_kit.migrations import run_migrations
from notifications.settings import NotificationsSettings
from notifications.storage import metadata

run_migrations(metadata, NotificationsSettings)
