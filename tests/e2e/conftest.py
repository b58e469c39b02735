"""`round0-local serve` as a separate process on free ports, for the end-to-end tests.

The tests talk to it only over HTTP (the webhook, the stand-ins' control endpoints)
and through boto3 against its AWS endpoint, and read the outbox it writes
(`round0_testkit.served`). When the session ends, every AWS call its functions made
must be one the deployed roles allow, as real IAM evaluates it (resources and
conditions too): the IAM check of the call log (`round0_testkit.iam`).
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from pathlib import Path

import pytest

from round0_testkit.served import Served, start_serve


def serving(workdir: Path, *arguments: str) -> Generator[Served, None, Served]:
    """A fixture's `serve`: started (a start that fails fails the test), yielded, then
    stopped cleanly, with every AWS call its functions made allowed by the deployed
    roles; returns it, stopped."""
    try:
        running = start_serve(workdir, *arguments)
    except RuntimeError as failed:
        pytest.fail(str(failed))
    yield running
    assert running.stop() == 0
    report = running.access()
    assert not report.refused, report.text()
    return running


@pytest.fixture(scope="session")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    running = yield from serving(tmp_path_factory.mktemp("serve"), "--retry-delay", "0.2")
    assert any("round0-local: stopped" in line for line in running.output)
