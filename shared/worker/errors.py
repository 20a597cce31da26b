"""How domain code says a job failed, and how validation errors read to a tenant."""

from pydantic import ValidationError

__all__ = ["JobFailure", "TransientError", "describe_errors"]


class JobFailure(Exception):
    """A permanent failure of one job, with a stable code (e.g. `input_too_large`)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class TransientError(JobFailure):
    """A failure worth another attempt later (a provider's 503, storage briefly away)."""


def describe_errors(exc: ValidationError, *prefix: str) -> str:
    """`input.text: Input should be a valid string; ...`: every error, with where it is."""
    return "; ".join(
        f"{'.'.join(str(p) for p in (*prefix, *err['loc'])) or '<root>'}: {err['msg']}"
        for err in exc.errors()
    )
