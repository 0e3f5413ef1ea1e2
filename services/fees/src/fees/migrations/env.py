from azl_kit.migrations import run_migrations
from fees.settings import FeesSettings
from fees.storage import metadata

run_migrations(metadata, FeesSettings)
