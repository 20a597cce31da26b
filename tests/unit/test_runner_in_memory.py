"""The runner scenarios on in-memory ports: the whole set runs in a few seconds."""

from collections.abc import AsyncIterator

import pytest

from tests.support.runner_memory import MemoryTransport
from tests.support.runner_scenarios import RunnerScenarios
from tests.support.runner_scenarios_short import ShortJobScenarios


class TestRunnerInMemory(RunnerScenarios, ShortJobScenarios):
    @pytest.fixture
    async def transport(self) -> AsyncIterator[MemoryTransport]:
        transport = MemoryTransport()
        yield transport
        await transport.close()
