"""What a dead letter carries: the original body, unchanged, and why it was parked.

A consumer that cannot process a message publishes it to `jobs.dlx` (routing key:
the source queue) with these headers and acknowledges it. Messages the broker itself
dead-letters (delivery limit reached) carry RabbitMQ's `x-death` header instead.
"""

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["DEAD_LETTER_CODES", "DeadLetterHeaders"]

DEAD_LETTER_CODES: dict[str, str] = {
    "malformed_json": "The body is not JSON.",
    "invalid_envelope": "The body is JSON but not a job command (or event) of a known schema version.",
    "unknown_operation": "No operation of that name is served by the queue's consumer.",
    "invalid_input": "The job's `input` does not match the operation's input schema.",
    "internal_error": "The worker crashed on the job; the job is failed too.",
    "invalid_event": "A message on `job-events` that is not a job event.",
    "missing_user_id": "A job command without the AMQP `user_id` property: its publisher is unknown.",
    "unknown_publisher": "A job command whose `user_id` is neither a platform service nor a mapped tenant.",
    "tenant_mismatch": "A job command naming another tenant than the one its publisher's user maps to.",
    "forged_event": "A job event whose `user_id` is not a platform user allowed to publish that event type.",
}
"""Stable `x-error-code` values; the job a rejected command names is failed with the same
code, except for the identity codes (the sender may not speak for that job)."""


class DeadLetterHeaders(BaseModel):
    model_config = ConfigDict(
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "x-error-code": "invalid_input",
                    "x-error-reason": "input.text: Input should be a valid string",
                    "x-original-exchange": "jobs",
                    "x-original-routing-key": "ner.entities",
                    "x-original-user-id": "acme-publisher",
                }
            ]
        },
    )

    error_code: str = Field(
        alias="x-error-code",
        description="Why the message was parked; one of: "
        + ", ".join(f"`{code}`" for code in DEAD_LETTER_CODES),
    )
    error_reason: str = Field(
        alias="x-error-reason", description="For humans: what exactly is wrong (at most 2000 characters)."
    )
    original_exchange: str = Field(alias="x-original-exchange")
    original_routing_key: str = Field(alias="x-original-routing-key")
    original_user_id: str = Field(
        "", alias="x-original-user-id", description="The `user_id` the original message carried, if any."
    )
