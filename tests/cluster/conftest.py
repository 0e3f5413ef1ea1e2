from __future__ import annotations

from collections.abc import Iterator

import pytest

from .cluster import RESULTS, Cluster, cluster_required, missing_prerequisites, unavailable_reason


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    missing = missing_prerequisites()
    if missing:  # only when required: otherwise the tests were skipped at collection
        pytest.fail(unavailable_reason(missing), pytrace=False)
    running = Cluster().start()
    try:
        yield running
    finally:
        running.stop()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test here is marked ``cluster``; where the local cluster cannot run (a machine
    with Docker only), each is skipped saying what is missing, unless it is required."""
    missing = missing_prerequisites()
    skip = None
    if missing and not cluster_required():
        skip = pytest.mark.skip(reason=unavailable_reason(missing))
    for item in items:
        if "tests/cluster" in str(item.path):
            item.add_marker(pytest.mark.cluster)
            if skip is not None:
                item.add_marker(skip)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if RESULTS:
        terminalreporter.section("cluster: a broker node lost under load")
        for line in RESULTS:
            terminalreporter.write_line(line)
