"""The queue the projector consumed before the job history stream (`projector.events`)."""

import logging

import aiormq

from shared.messaging import Publisher

__all__ = ["LEGACY_QUEUE", "drop_legacy_queue"]

log = logging.getLogger(__name__)

LEGACY_QUEUE = "projector.events"
"""Bound to every job event and no longer consumed: left alone it would fill up to its length
limit and then refuse (nack) every event published to `job-events`."""


async def drop_legacy_queue(publisher: Publisher) -> None:
    """Delete the old queue if it is empty (every event in it was applied). One still holding
    events is left for an operator (docs/operations.md), with a warning."""
    channel = await publisher.connection.channel()
    try:
        await channel.queue_delete(LEGACY_QUEUE, if_empty=True)
    except aiormq.exceptions.ChannelPreconditionFailed:
        log.warning(
            "queue %s from before the job history still holds events: once the old projector has "
            "applied them, delete it (rabbitmqctl delete_queue %s), or it fills up and refuses events",
            LEGACY_QUEUE, LEGACY_QUEUE,
        )  # fmt: skip
    except aiormq.exceptions.AMQPError as exc:
        log.warning("could not check for the old queue %s: %s", LEGACY_QUEUE, exc)
    finally:
        if not channel.is_closed:
            await channel.close()
