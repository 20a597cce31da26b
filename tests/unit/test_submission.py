import pytest
from fastapi.exceptions import RequestValidationError

from services.api.auth import ApiKeys, parse_api_keys
from services.api.submission import SubmitJob, fingerprint, new_job


async def test_new_job_builds_command_and_queued_event() -> None:
    command, queued = await new_job(SubmitJob(operation="ner.entities", input={"text": "hi"}), "acme")
    assert command.tenant == queued.tenant == "acme"
    assert command.job_id == queued.job_id
    assert command.input == {"text": "hi"}
    assert queued.type == "queued"


async def test_unknown_operation_lists_the_known_ones() -> None:
    with pytest.raises(RequestValidationError) as err:
        await new_job(SubmitJob(operation="ner.nope", input={}), "acme")
    (error,) = err.value.errors()
    assert error["loc"] == ("body", "operation")
    assert "ner.entities" in error["msg"]


async def test_invalid_input_names_the_field() -> None:
    with pytest.raises(RequestValidationError) as err:
        await new_job(SubmitJob(operation="ner.entities", input={"text": 5, "txt": "x"}), "acme")
    locs = {e["loc"] for e in err.value.errors()}
    assert ("body", "input", "txt") in locs  # extra fields are refused, not ignored
    with pytest.raises(RequestValidationError) as err:
        await new_job(SubmitJob(operation="ner.entities", input={}), "acme")
    [error] = err.value.errors()
    assert error["loc"] == ("body", "input")
    assert "exactly one of text, file_id, job_id" in error["msg"]


def test_fingerprint_ignores_key_order() -> None:
    a = SubmitJob.model_validate({"operation": "ner.entities", "input": {"text": "x"}})
    b = SubmitJob.model_validate({"input": {"text": "x"}, "operation": "ner.entities"})
    c = SubmitJob.model_validate({"input": {"text": "y"}, "operation": "ner.entities"})
    assert fingerprint(a) == fingerprint(b) != fingerprint(c)


K1, K2 = "k1-0123456789abcdef", "k2-0123456789abcdef"


def test_api_keys() -> None:
    keys = ApiKeys(parse_api_keys(f" a:{K1}, b:{K2} ,"))
    assert keys.tenant_for(K1) == "a"
    assert keys.tenant_for(K2) == "b"
    assert keys.tenant_for("k3-0123456789abcdef") is None
    for bad in ("a", "a:", f":{K1}", f"a:{K1},b:{K1}"):
        with pytest.raises(ValueError, match="JOBS_API_KEYS"):
            parse_api_keys(bad)


def test_short_keys_are_refused_without_showing_them() -> None:
    with pytest.raises(ValueError, match="shorter") as refused:
        parse_api_keys(f"a:{K1},b:short-secret-1")
    assert str(refused.value) == "JOBS_API_KEYS entry 2 (tenant 'b'): the key is shorter than 16 characters"
    with pytest.raises(ValueError, match="entry 1") as malformed:
        parse_api_keys("b-without-a-colon-secret")
    assert "secret" not in str(malformed.value)
