"""The endpoint embedder against a local server speaking the OpenAI `/v1/embeddings` protocol:
batching, order, normalisation, retries with Retry-After, timeouts and every error's code."""

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest

from services.rag.embedding import EmbeddingError, EmbeddingUnavailable, embedder_from_settings
from services.rag.embedding_endpoint import EndpointEmbedder
from services.rag.embedding_settings import EmbeddingSettings
from shared.worker import JobFailure, TransientError
from tests.support.embeddings_server import EmbeddingRequest, Reply, ScriptedEmbeddingServer, bag_of_words
from tools.devstack import free_port

pytestmark = pytest.mark.integration

Data = list[dict[str, Any]]


@pytest.fixture
def server() -> Iterator[ScriptedEmbeddingServer]:
    running = ScriptedEmbeddingServer(dim=16).start()
    yield running
    running.stop()


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def embedder(base_url: str, sleeps: Sleeps | None = None, **fields: object) -> EndpointEmbedder:
    settings = EmbeddingSettings.model_validate(
        {"base_url": base_url, "model": "scripted-embedder", "api_key": "sk-test", **fields}
    )
    return EndpointEmbedder.from_settings(settings, sleep=sleeps if sleeps is not None else Sleeps())


def test_vectors_come_back_normalised_in_order_in_batches(server: ScriptedEmbeddingServer) -> None:
    texts = [f"text number {i} about topic {i % 7}" for i in range(70)]
    client = embedder(server.base_url, batch_size=32)
    vectors = client.embed(texts)
    assert vectors.shape == (70, 16)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-6)
    expected = np.asarray([bag_of_words(t, 16) for t in texts], dtype=np.float32)
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    np.testing.assert_allclose(vectors, expected, rtol=1e-6)  # the server answers in reverse order
    assert [len(r.inputs) for r in server.requests] == [32, 32, 6]
    first = server.requests[0]
    assert first.body["model"] == "scripted-embedder"
    assert first.body["encoding_format"] == "float"
    assert "dimensions" not in first.body
    assert first.headers["authorization"] == "Bearer sk-test"
    assert client.dim == 16
    assert client.model == "scripted-embedder"


def test_the_length_is_learnt_from_the_endpoint_or_asked_for(server: ScriptedEmbeddingServer) -> None:
    learnt = embedder(server.base_url)
    assert learnt.dim == 16  # one probe request
    assert len(server.requests) == 1
    server.script = lambda request: Reply(body={"data": [{"index": 0, "embedding": [1.0] * 8}]})
    with pytest.raises(EmbeddingError, match="8 numbers, expected 16"):
        learnt.embed(["the model behind the endpoint changed"])
    server.reset()
    asked = embedder(server.base_url, dimensions=16)
    assert asked.dim == 16
    assert not server.requests
    asked.embed(["one"])
    assert server.requests[-1].body["dimensions"] == 16


def test_the_factory_picks_the_endpoint_when_a_base_url_is_set(server: ScriptedEmbeddingServer) -> None:
    chosen = embedder_from_settings(EmbeddingSettings(base_url=server.base_url, model="m"))
    assert isinstance(chosen, EndpointEmbedder)
    assert chosen.embed(["a b c"]).shape == (1, 16)


def test_rate_limits_and_outages_are_retried_honouring_retry_after(server: ScriptedEmbeddingServer) -> None:
    replies = iter([Reply.failure(429, **{"Retry-After": "2"}), Reply.failure(503), Reply()])
    server.script = lambda request: next(replies)
    sleeps = Sleeps()
    vectors = embedder(server.base_url, sleeps, backoff_base=1.0).embed(["hello there"])
    assert vectors.shape == (1, 16)
    assert len(server.requests) == 3
    assert 2.0 <= sleeps[0] <= 2.1  # the server's wait, a floor
    assert 1.0 <= sleeps[1] <= 2.0  # backoff for attempt 2: ceiling 2 s, equal jitter


def test_an_endpoint_that_stays_down_is_transient_after_every_attempt(
    server: ScriptedEmbeddingServer,
) -> None:
    server.script = lambda request: Reply.failure(500)
    sleeps = Sleeps()
    with pytest.raises(EmbeddingUnavailable) as caught:
        embedder(server.base_url, sleeps, attempts=4).embed(["x"])
    assert isinstance(caught.value, TransientError)
    assert caught.value.code == "embeddings_unavailable"
    assert len(server.requests) == 4
    assert len(sleeps) == 3
    assert str(server.port) not in caught.value.message


def test_too_long_a_retry_after_gives_up_at_once(server: ScriptedEmbeddingServer) -> None:
    server.script = lambda request: Reply.failure(429, **{"Retry-After": "3600"})
    with pytest.raises(EmbeddingUnavailable) as caught:
        embedder(server.base_url, backoff_max=30.0).embed(["x"])
    assert caught.value.code == "embeddings_rate_limited"
    assert len(server.requests) == 1


@pytest.mark.parametrize(
    ("status", "code", "hint"),
    [
        (401, "embeddings_auth_failed", "EMBEDDINGS_API_KEY"),
        (403, "embeddings_auth_failed", "EMBEDDINGS_API_KEY"),
        (404, "embeddings_rejected", "EMBEDDINGS_BASE_URL"),
        (400, "embeddings_rejected", "HTTP 400"),
        (413, "embeddings_rejected", "HTTP 413"),
    ],
)
def test_final_errors_are_not_retried_and_say_what_to_check(
    server: ScriptedEmbeddingServer, status: int, code: str, hint: str
) -> None:
    server.script = lambda request: Reply.failure(status)
    with pytest.raises(EmbeddingError) as caught:
        embedder(server.base_url).embed(["x"])
    assert not isinstance(caught.value, TransientError)
    assert isinstance(caught.value, JobFailure)
    assert (caught.value.code, len(server.requests)) == (code, 1)
    assert hint in caught.value.message
    assert "scripted failure" not in caught.value.message  # the server's own text stays in the log
    assert str(server.port) not in caught.value.message


@pytest.mark.parametrize(
    ("answer", "why"),
    [
        (lambda data: data[:-1], "1 vectors for 2 texts"),
        (lambda data: [{**data[0], "index": 1}, data[1]], "indexes"),
        (lambda data: [data[0], {**data[1], "embedding": [0.5] * 8}], "unequal lengths"),
        (lambda data: [data[0], {**data[1], "embedding": []}], "missing"),
    ],
)
def test_malformed_answers_fail_with_bad_response(
    server: ScriptedEmbeddingServer, answer: Callable[[Data], Data], why: str
) -> None:
    def script(request: EmbeddingRequest) -> Reply:
        body = server.answer(request)
        body["data"] = answer(sorted(body["data"], key=lambda d: d["index"]))
        return Reply(body=body)

    server.script = script
    with pytest.raises(EmbeddingError) as caught:
        embedder(server.base_url).embed(["one thing", "another thing"])
    assert caught.value.code == "embeddings_bad_response"
    assert why in caught.value.message


def test_a_body_that_is_not_json_or_not_finite_fails(server: ScriptedEmbeddingServer) -> None:
    server.script = lambda request: Reply(raw=b"<html>proxy error</html>")
    with pytest.raises(EmbeddingError) as caught:
        embedder(server.base_url).embed(["x"])
    assert caught.value.code == "embeddings_bad_response"
    nan = b'{"object":"list","model":"m","data":[{"object":"embedding","index":0,"embedding":[NaN,1]}]}'
    server.script = lambda request: Reply(raw=nan)
    with pytest.raises(EmbeddingError) as caught:
        embedder(server.base_url).embed(["x"])
    assert caught.value.code == "embeddings_bad_response"


def test_a_silent_endpoint_times_out_and_is_retried(server: ScriptedEmbeddingServer) -> None:
    server.script = lambda request: Reply(delay=1.0)
    with pytest.raises(EmbeddingUnavailable) as caught:
        embedder(server.base_url, timeout=0.2, attempts=2).embed(["x"])
    assert caught.value.code == "embeddings_timeout"
    assert len(server.requests) == 2


def test_nothing_listening_is_transient_and_names_no_address() -> None:
    port = free_port()
    with pytest.raises(EmbeddingUnavailable) as caught:
        embedder(f"http://127.0.0.1:{port}/v1", attempts=2, connect_timeout=1.0).embed(["x"])
    assert caught.value.code == "embeddings_unavailable"
    assert str(port) not in caught.value.message
    assert "127.0.0.1" not in caught.value.message
