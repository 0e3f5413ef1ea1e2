from azl_kit.migrations import run_migrations
from orders.settings import OrdersSettings
from orders.storage import metadata

run_migrations(metadata, OrdersSettings)
