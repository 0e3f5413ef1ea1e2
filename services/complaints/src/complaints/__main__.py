from azl_kit.runner import main

from .app import MIGRATIONS, create_app
from .settings import ComplaintsSettings

main(create_app, ComplaintsSettings, MIGRATIONS)
