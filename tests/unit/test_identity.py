import pytest

from services.ner.settings import NerSettings
from shared.identity import IdentitySettings, PublisherIdentities, parse_broker_tenants

IDS = PublisherIdentities(["jobs-api"], {"acme-publisher": "acme"})


def test_platform_users_may_name_any_tenant() -> None:
    assert IDS.refusal("jobs-api", {"tenant": "acme"}) is None
    assert IDS.refusal("jobs-api", {"tenant": "globex"}) is None


def test_a_tenant_user_may_name_only_its_own_tenant() -> None:
    assert IDS.refusal("acme-publisher", {"tenant": "acme"}) is None
    refused = IDS.refusal("acme-publisher", {"tenant": "globex"})
    assert refused is not None
    assert refused.code == "tenant_mismatch"
    assert "'acme'" in refused.reason
    assert "'globex'" in refused.reason
    missing = IDS.refusal("acme-publisher", {"job_id": "j"})
    assert missing is not None
    assert missing.code == "tenant_mismatch"


def test_a_body_that_is_no_object_is_left_to_envelope_validation() -> None:
    assert IDS.refusal("acme-publisher", [1, 2]) is None


@pytest.mark.parametrize(
    ("user", "code"), [(None, "missing_user_id"), ("", "missing_user_id"), ("eve", "unknown_publisher")]
)
def test_unknown_or_missing_publishers_are_refused(user: str | None, code: str) -> None:
    refused = IDS.refusal(user, {"tenant": "acme"})
    assert refused is not None
    assert refused.code == code


def test_the_development_default_trusts_guest_only() -> None:
    ids = PublisherIdentities.from_settings(IdentitySettings())
    assert ids.platform_users == {"guest"}
    assert ids.tenants == {}


def test_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOBS_PLATFORM_BROKER_USERS", "jobs-api, jobs-ner")
    monkeypatch.setenv("JOBS_BROKER_TENANTS", "acme-publisher:acme,globex-etl:globex")
    ids = NerSettings().identities()  # read with the service's settings, in its entry point
    assert ids.platform_users == {"jobs-api", "jobs-ner"}
    assert ids.tenants == {"acme-publisher": "acme", "globex-etl": "globex"}


@pytest.mark.parametrize("spec", ["acme", "u:", ":t", "u:a,u:b"])
def test_malformed_tenant_maps_are_refused(spec: str) -> None:
    with pytest.raises(ValueError, match="JOBS_BROKER_TENANTS"):
        parse_broker_tenants(spec)


def test_a_user_cannot_be_both_kinds() -> None:
    with pytest.raises(ValueError, match="both"):
        PublisherIdentities(["u"], {"u": "t"})


def test_a_platform_user_forwarding_a_message_is_judged_as_the_original_publisher() -> None:
    forwarded = {"x-publisher-user-id": "acme-publisher"}
    assert IDS.refusal("jobs-api", {"tenant": "acme"}, forwarded) is None
    laundered = IDS.refusal("jobs-api", {"tenant": "globex"}, forwarded)
    assert laundered is not None
    assert laundered.code == "tenant_mismatch"
    nobody = IDS.refusal("jobs-api", {"tenant": "acme"}, {"x-publisher-user-id": ""})
    assert nobody is not None
    assert nobody.code == "missing_user_id"
    stranger = IDS.refusal("jobs-api", {"tenant": "acme"}, {"x-publisher-user-id": b"eve"})
    assert stranger is not None
    assert stranger.code == "unknown_publisher"


def test_only_platform_users_can_forward() -> None:
    claim = {"x-publisher-user-id": "jobs-api"}
    refused = IDS.refusal("acme-publisher", {"tenant": "globex"}, claim)
    assert refused is not None
    assert refused.code == "tenant_mismatch"


EVENT_IDS = PublisherIdentities(["jobs-api", "jobs-ner"], {"acme-publisher": "acme"}, api_users=["jobs-api"])
WORKER_EVENTS = ["started", "progress", "retrying", "succeeded", "failed", "cancelled"]


@pytest.mark.parametrize("event", WORKER_EVENTS)
def test_a_worker_user_may_publish_every_worker_event(event: str) -> None:
    assert EVENT_IDS.event_refusal("jobs-ner", event, own_user="jobs-projector") is None


@pytest.mark.parametrize(("event", "allowed"), [("queued", True), ("cancelled", True), ("succeeded", False)])
def test_the_api_user_may_publish_only_queued_and_cancelled(event: str, allowed: bool) -> None:
    refused = EVENT_IDS.event_refusal("jobs-api", event, own_user="jobs-projector")
    assert (refused is None) == allowed
    if refused is not None:
        assert refused.code == "forged_event"


def test_the_projector_believes_only_its_own_failed() -> None:
    assert EVENT_IDS.event_refusal("jobs-projector", "failed", own_user="jobs-projector") is None
    refused = EVENT_IDS.event_refusal("jobs-projector", "succeeded", own_user="jobs-projector")
    assert refused is not None
    assert refused.code == "forged_event"


@pytest.mark.parametrize("user", ["acme-publisher", "eve", None, ""])
def test_tenant_and_unknown_users_may_publish_no_event(user: str | None) -> None:
    refused = EVENT_IDS.event_refusal(user, "succeeded", own_user="jobs-projector")
    assert refused is not None
    assert refused.code == "forged_event"
    assert "JOBS_PLATFORM_BROKER_USERS" in refused.reason


def test_on_a_development_broker_guest_publishes_every_event() -> None:
    ids = PublisherIdentities.from_settings(IdentitySettings())
    for event in ["queued", *WORKER_EVENTS]:
        assert ids.event_refusal("guest", event, own_user="guest") is None
