from __future__ import annotations

import pytest

from tests.unit.notifications._support import make_log_reader


@pytest.fixture(name="logs")
def logs_fixture(caplog, capfd):
    return make_log_reader(caplog, capfd)
