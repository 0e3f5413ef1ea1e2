"""The deployment tests run wherever a Docker API answers (Docker, or Podman's socket);
without one they are skipped, saying so, unless ``AZL_TEST_REQUIRE_ENGINE=1`` (CI) makes a
missing engine a failure."""

from __future__ import annotations

import pytest

from .stack import REQUIRE_ENV, RESULTS, engine, engine_required


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "deploy: builds the images and runs deploy/compose.yaml on a container engine"
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    mine = [item for item in items if "tests/deploy" in str(item.path)]
    if not mine:
        return
    skip = None
    if engine() is None and not engine_required():
        skip = pytest.mark.skip(
            reason=f"no Docker API answers (DOCKER_HOST); {REQUIRE_ENV}=1 makes that a failure"
        )
    for item in mine:
        item.add_marker(pytest.mark.deploy)
        if skip is not None:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def container_engine() -> None:
    if engine() is None:
        pytest.fail(
            f"{REQUIRE_ENV}=1 but no Docker API answers at DOCKER_HOST "
            "(deploy/local-images/provision-podman.sh start provides one)",
            pytrace=False,
        )


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if RESULTS:
        terminalreporter.section("deploy: the compose stack")
        for line in RESULTS:
            terminalreporter.write_line(line)
