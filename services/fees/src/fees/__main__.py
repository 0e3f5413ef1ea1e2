from azl_kit.runner import main

from .app import MIGRATIONS, create_app
from .settings import FeesSettings

main(create_app, FeesSettings, MIGRATIONS)
