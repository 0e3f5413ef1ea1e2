from azl_kit.migrations import run_migrations
from complaints.settings import ComplaintsSettings
from complaints.storage import metadata

run_migrations(metadata, ComplaintsSettings)
