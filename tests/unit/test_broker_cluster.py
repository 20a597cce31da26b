"""`AMQP_URL` as a cluster's node list: parsed, checked to be one cluster's, never logged
with its password, and handed to aio-pika as a connection class that knows every node."""

import pytest
from aio_pika import RobustConnection

from shared.broker_cluster import ClusterConnection, connection_options, node_urls, redacted

CLUSTER = "amqp://jobs-api:s3cret@rmq-1:5672/jobs,amqp://jobs-api:s3cret@rmq-2:5673/jobs, amqp://jobs-api:s3cret@rmq-3/jobs"


def test_one_url_is_a_cluster_of_one() -> None:
    options = connection_options("amqp://guest:guest@127.0.0.1:5672/")
    assert options["url"] == "amqp://guest:guest@127.0.0.1:5672/"
    assert options["connection_class"].NODES == (("127.0.0.1", 5672),)


def test_every_node_is_tried_in_the_order_given() -> None:
    options = connection_options(CLUSTER)
    assert options["url"] == "amqp://jobs-api:s3cret@rmq-1:5672/jobs"
    assert issubclass(options["connection_class"], ClusterConnection)
    assert options["connection_class"].NODES == (("rmq-1", 5672), ("rmq-2", 5673), ("rmq-3", 5672))
    assert ClusterConnection.NODES == ()  # each list gets a class of its own


@pytest.mark.parametrize(
    "other",
    [
        "amqp://jobs-ner:s3cret@rmq-2/jobs",  # another user
        "amqp://jobs-api:other@rmq-2/jobs",  # another password
        "amqp://jobs-api:s3cret@rmq-2/other",  # another vhost
        "amqps://jobs-api:s3cret@rmq-2/jobs",  # another scheme
    ],
)
def test_nodes_of_different_clusters_are_refused_without_showing_a_password(other: str) -> None:
    with pytest.raises(ValueError, match="one cluster") as raised:
        node_urls(f"amqp://jobs-api:s3cret@rmq-1/jobs,{other}")
    assert "s3cret" not in str(raised.value)
    assert "other@" not in str(raised.value)


def test_an_empty_list_is_refused() -> None:
    with pytest.raises(ValueError, match="no broker node"):
        node_urls(" , ")


def test_redacted_hides_the_password_only() -> None:
    assert redacted("amqp://jobs-api:s3cret@rmq-1:5672/jobs") == "amqp://jobs-api:******@rmq-1:5672/jobs"
    assert redacted("amqp://rmq-1/") == "amqp://rmq-1/"


def test_the_reconnect_attempt_it_overrides_exists_in_aio_pika() -> None:
    # ClusterConnection replaces RobustConnection's (private) one reconnect attempt: an
    # aio-pika that renamed it would silently reconnect to the first node only.
    assert "_RobustConnection__connect_transport" in vars(RobustConnection)
    assert "_RobustConnection__connect_transport" in vars(ClusterConnection)
