from azl_kit.runner import main

from .app import MIGRATIONS, create_app
from .settings import OrdersSettings

main(create_app, OrdersSettings, MIGRATIONS)
