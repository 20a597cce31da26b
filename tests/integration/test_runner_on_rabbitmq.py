"""The runner scenarios on the real RabbitMQ and Redis, with the production adapters."""

from collections.abc import AsyncIterator

import aio_pika
import pytest
from redis.asyncio import Redis

from tests.support.infra import Infra
from tests.support.runner_rabbitmq import RabbitTransport
from tests.support.runner_scenarios import RunnerScenarios
from tests.support.runner_scenarios_short import ShortJobScenarios

pytestmark = pytest.mark.integration


class TestRunnerOnRabbitMQ(RunnerScenarios, ShortJobScenarios):
    @pytest.fixture
    async def transport(
        self, infra: Infra, amqp: aio_pika.abc.AbstractRobustConnection, redis: Redis
    ) -> AsyncIterator[RabbitTransport]:
        transport = await RabbitTransport(infra.amqp_url, redis).open()
        yield transport
        await transport.close()
