from azl_kit.runner import main

from .app import MIGRATIONS, create_app
from .settings import NotificationsSettings

main(create_app, NotificationsSettings, MIGRATIONS)
