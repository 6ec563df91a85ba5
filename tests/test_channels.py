"""The delivery channels against real receivers: an HTTP server verifying signatures, the machine's RabbitMQ
and Redis, an SMTP server; and the Standard Webhooks signatures themselves."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import orjson
import pytest

from connectors.channels import signing
from connectors.channels.base import Message, Result
from connectors.channels.fake import FakeChannel
from connectors.channels.rabbitmq import RabbitMQChannel
from connectors.channels.redis_streams import RedisStreamChannel
from connectors.channels.signing import SignatureError, check_secret, new_secret, sign_headers, verify
from connectors.channels.smtp import SmtpChannel
from connectors.channels.webhook import WebhookChannel, retry_after
from connectors.delivery.config import build_channel, parse_config
from connectors.delivery.events import INQUIRY_RAISED, WARNING_RAISED, Event
from connectors.sync.config import ConfigError
from tests.channel_kit import (
    SmtpReceiver,
    TcpRelay,
    WebhookReceiver,
    delete_exchange,
    drain_queue,
    free_port,
    queue_depth,
    queue_is_durable,
    rabbit_queue,  # noqa: F401 - a fixture
    rabbit_url,  # noqa: F401 - a fixture
    read_stream,
    redis_stream,  # noqa: F401 - a fixture
    redis_url,  # noqa: F401 - a fixture
)

REGION = "410100000"
SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()
OLD_SECRET = "whsec_" + base64.b64encode(b"o" * 32).decode()

# RabbitMQ is the machine's own broker, which tests/test_delivery.py stops and starts: never meanwhile
pytestmark = pytest.mark.xdist_group("rabbitmq")


def message(i: int = 0, kind: str = WARNING_RAISED, **data: Any) -> Message:
    """The message of a real event document, as the outbox would hand it over."""
    event = Event(
        type=kind,
        region=REGION,
        level="red" if kind == WARNING_RAISED else None,
        data=data or {"warning_id": i, "rule_code": "R001", "amount": "1234.56", "link": f"/v1/warnings/{i}"},
    )
    return Message(event.id, event.type, event.region, event.occurred_at, event.document())


def batch(n: int) -> list[Message]:
    return [message(i) for i in range(n)]


def results(outcomes: list[Any]) -> list[Result]:
    return [o.result for o in outcomes]


# -- signing -------------------------------------------------------------------------------------------


def test_a_signed_message_verifies_and_names_its_id() -> None:
    secret, body = new_secret(), b'{"id":"e1"}'
    headers = sign_headers([secret], "e1", body)
    assert set(headers) == {"webhook-id", "webhook-timestamp", "webhook-signature"}
    assert headers["webhook-signature"].startswith("v1,") and " " not in headers["webhook-signature"]
    assert verify([secret], headers, body) == "e1"
    assert verify([secret], {k.upper(): v for k, v in headers.items()}, body) == "e1"  # names: any case


def test_signatures_agree_with_the_standard_webhooks_library() -> None:
    from standardwebhooks.webhooks import Webhook

    body = b'{"a":1}'
    headers = sign_headers([SECRET], "msg_1", body)
    assert Webhook(SECRET).verify(body, headers) == {"a": 1}


def test_while_rotating_a_receiver_knowing_either_secret_verifies() -> None:
    body = b'{"id":"e2"}'
    headers = sign_headers([SECRET, OLD_SECRET], "e2", body)
    assert len(headers["webhook-signature"].split(" ")) == 2
    assert verify([OLD_SECRET], headers, body) == "e2"
    assert verify([SECRET], headers, body) == "e2"
    with pytest.raises(SignatureError, match="webhook-signature: no signature matches"):
        verify([new_secret()], headers, body)


@pytest.mark.parametrize("part", ["body", "id", "timestamp"])
def test_a_tampered_request_is_refused(part: str) -> None:
    body = b'{"id":"e3","amount":"1.00"}'
    headers = sign_headers([SECRET], "e3", body)
    if part == "body":
        body = body.replace(b"1.00", b"9.00")
    elif part == "id":
        headers["webhook-id"] = "e4"
    else:
        headers["webhook-timestamp"] = str(int(headers["webhook-timestamp"]) - 1)
    with pytest.raises(SignatureError, match="no signature matches"):
        verify([SECRET], headers, body)


def test_stale_and_future_timestamps_are_refused() -> None:
    body, now = b"{}", datetime.now(UTC)
    stale = sign_headers([SECRET], "e5", body, at=now - timedelta(seconds=301))
    with pytest.raises(SignatureError, match="webhook-timestamp: older than 300 s"):
        verify([SECRET], stale, body)
    future = sign_headers([SECRET], "e5", body, at=now + timedelta(seconds=301))
    with pytest.raises(SignatureError, match="webhook-timestamp: more than 300 s in the future"):
        verify([SECRET], future, body)
    # the tolerance is measured from `now` when given (a replay an hour later is refused)
    at = datetime(2025, 3, 1, 9, 0, 0)
    signed = sign_headers([SECRET], "e5", body, at=at)
    assert verify([SECRET], signed, body, now=at + timedelta(seconds=299)) == "e5"
    with pytest.raises(SignatureError, match="older than 60 s"):
        verify([SECRET], signed, body, now=at + timedelta(hours=1), tolerance_s=60)


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_missing_headers_are_named(missing: str) -> None:
    headers = sign_headers([SECRET], "e6", b"{}")
    del headers[missing]
    with pytest.raises(
        SignatureError, match="webhook-id, webhook-timestamp and webhook-signature headers are required"
    ):
        verify([SECRET], headers, b"{}")


@pytest.mark.parametrize(
    ("signature", "expected"),
    [
        ("garbage", "webhook-signature: malformed"),
        ("v1,", "webhook-signature: malformed"),
        ("v1,***not-base64***", "webhook-signature: malformed: a v1 signature is not base64"),
        ("v2,c2lnbmF0dXJl", r"webhook-signature: no v1 signature \(unknown version v2\)"),
        ("v1a,c2lnbmF0dXJl", "unknown version v1a"),
        (" ".join(["v1,c2ln"] * 17), "more than 16 signatures"),
    ],
)
def test_a_malformed_signature_header_is_refused_clearly(signature: str, expected: str) -> None:
    headers = sign_headers([SECRET], "e7", b"{}")
    headers["webhook-signature"] = signature
    with pytest.raises(SignatureError, match=expected):
        verify([SECRET], headers, b"{}")


def test_an_unknown_version_beside_a_valid_v1_is_skipped() -> None:
    headers = sign_headers([SECRET], "e8", b"{}")
    headers["webhook-signature"] = "v2,c2lnbmF0dXJl " + headers["webhook-signature"]
    assert verify([SECRET], headers, b"{}") == "e8"


def test_a_timestamp_that_is_not_unix_seconds_is_refused() -> None:
    headers = sign_headers([SECRET], "e9", b"{}")
    headers["webhook-timestamp"] = "2025-03-01T09:00:00Z"
    with pytest.raises(SignatureError, match="webhook-timestamp: not a Unix time"):
        verify([SECRET], headers, b"{}")


def test_secrets_are_checked_without_being_echoed() -> None:
    check_secret(new_secret(), "secrets[0]")
    assert new_secret() != new_secret() and len(base64.b64decode(new_secret()[6:])) == 32
    for bad in ["plain-password-123", "whsec_" + base64.b64encode(b"short").decode(), "whsec_%%%%%%"]:
        with pytest.raises(signing.ChannelConfigError, match=r"secrets\[0\]: a secret is whsec_") as err:
            check_secret(bad, "secrets[0]")
        assert bad not in str(err.value)


# -- webhooks ------------------------------------------------------------------------------------------


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver([SECRET]) as r:
        yield r


def webhook(url: str, **extra: Any) -> WebhookChannel:
    channel = build_channel("hook", {"type": "webhook", "url": url, "secrets": [SECRET], **extra})
    assert isinstance(channel, WebhookChannel)
    return channel


def test_webhook_delivers_signed_events_with_their_headers(receiver: WebhookReceiver) -> None:
    channel = webhook(receiver.url, headers={"Authorization": "Bearer t0ken"})
    messages = batch(3)
    try:
        assert results(channel.deliver(messages)) == [Result.delivered] * 3
    finally:
        channel.close()
    assert receiver.rejected == []
    assert receiver.unique == {m.id: m.body for m in messages}
    for m, (msg_id, headers, body) in zip(messages, receiver.received, strict=True):
        assert msg_id == m.id and body == m.body
        assert headers["content-type"] == "application/json"
        assert headers["idempotency-key"] == m.id == headers["webhook-id"]
        assert headers["x-oversight-event"] == WARNING_RAISED
        assert headers["authorization"] == "Bearer t0ken"
        assert verify([SECRET], headers, body) == m.id


def test_webhook_sends_both_secrets_while_rotating(receiver: WebhookReceiver) -> None:
    old_only = WebhookReceiver([OLD_SECRET]).start()
    try:
        channel = webhook(old_only.url, secrets=[SECRET, OLD_SECRET])
        assert results(channel.deliver(batch(1))) == [Result.delivered]
        assert old_only.rejected == [] and len(old_only.unique) == 1
    finally:
        old_only.stop()


def test_webhook_a_receiver_with_another_secret_refuses_and_the_event_fails(
    receiver: WebhookReceiver,
) -> None:
    channel = build_channel("hook", {"type": "webhook", "url": receiver.url, "secrets": [OLD_SECRET]})
    outcome = channel.deliver(batch(1))[0]
    assert outcome.result is Result.failed and outcome.error == "HTTP 401 Unauthorized"
    assert receiver.rejected == ["webhook-signature: no signature matches"] and receiver.unique == {}


def test_webhook_410_is_gone_and_the_rest_of_the_batch_is_not_sent(receiver: WebhookReceiver) -> None:
    receiver.status = 410
    outcomes = webhook(receiver.url).deliver(batch(3))
    assert results(outcomes) == [Result.gone] * 3
    assert len(receiver.received) == 1


@pytest.mark.parametrize("status", [500, 502, 408, 425])
def test_webhook_server_errors_retry(receiver: WebhookReceiver, status: int) -> None:
    receiver.status = status
    outcomes = webhook(receiver.url).deliver(batch(2))
    assert results(outcomes) == [Result.retry] * 2
    assert outcomes[0].error is not None and outcomes[0].error.startswith(f"HTTP {status}")
    assert outcomes[0].retry_after is None
    assert len(receiver.received) == 2  # a 500 may be this event's: the next one is still tried


def test_webhook_429_retries_after_what_it_asks_and_stops_the_batch(receiver: WebhookReceiver) -> None:
    receiver.status, receiver.retry_after = 429, "7"
    outcomes = webhook(receiver.url).deliver(batch(3))
    assert results(outcomes) == [Result.retry] * 3
    assert [o.retry_after for o in outcomes] == [7.0] * 3
    assert len(receiver.received) == 1
    receiver.status = 503
    receiver.retry_after = format_datetime(datetime.now(UTC) + timedelta(seconds=120), usegmt=True)
    outcome = webhook(receiver.url).deliver(batch(1))[0]
    assert outcome.result is Result.retry and outcome.retry_after is not None
    assert 100 < outcome.retry_after <= 120


def test_retry_after_values() -> None:
    now = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
    assert retry_after("120") == 120.0
    assert retry_after("Sat, 01 Mar 2025 09:01:30 GMT", now) == 90.0
    assert retry_after("Sat, 01 Mar 2025 08:00:00 GMT", now) == 0.0
    assert retry_after("soon") is None and retry_after(None) is None and retry_after("-5") is None


@pytest.mark.parametrize("status", [400, 404, 409, 422])
def test_webhook_client_errors_fail(receiver: WebhookReceiver, status: int) -> None:
    receiver.status = status
    outcome = webhook(receiver.url).deliver(batch(1))[0]
    assert outcome.result is Result.failed and outcome.error is not None
    assert outcome.error.startswith(f"HTTP {status}")


def test_webhook_redirects_are_not_followed(receiver: WebhookReceiver) -> None:
    elsewhere = WebhookReceiver([SECRET]).start()
    try:
        receiver.status, receiver.location = 302, elsewhere.url
        outcome = webhook(receiver.url).deliver(batch(1))[0]
        assert outcome.result is Result.failed
        assert outcome.error == (
            "HTTP 302 Found: redirects are not followed: only the configured URL is called"
        )
        assert elsewhere.received == []
    finally:
        elsewhere.stop()


def test_webhook_receiver_down_retries_then_the_same_channel_delivers(receiver: WebhookReceiver) -> None:
    channel = webhook(receiver.url)
    assert results(channel.deliver(batch(1))) == [Result.delivered]  # a kept-alive connection exists now
    receiver.stop()
    outcomes = channel.deliver(batch(3))
    assert results(outcomes) == [Result.retry] * 3
    assert outcomes[0].error is not None and outcomes[0].error.startswith("ConnectError")
    receiver.start()
    later = batch(2)
    assert results(channel.deliver(later)) == [Result.delivered] * 2
    assert all(m.id in receiver.unique for m in later)
    channel.close()


def test_webhook_a_slow_receiver_times_out_as_retry(receiver: WebhookReceiver) -> None:
    receiver.delay_s = 1.0
    outcomes = webhook(receiver.url, timeout="200ms").deliver(batch(3))
    assert results(outcomes) == [Result.retry] * 3
    assert outcomes[0].error is not None and outcomes[0].error.startswith("ReadTimeout")
    time.sleep(1.2)
    assert len(receiver.received) == 1  # the rest of the batch was not sent into the same wait


def test_webhook_receiver_removes_duplicates(receiver: WebhookReceiver) -> None:
    channel = webhook(receiver.url)
    m = message()
    channel.deliver([m])
    channel.deliver([m])
    assert len(receiver.received) == 2 and receiver.unique == {m.id: m.body} and receiver.duplicates == 1


def test_webhook_describe_shows_no_credentials() -> None:
    channel = webhook("https://user:pw123@hooks.example.gov.cn:8443/in?token=abc#x")
    assert channel.describe() == "webhook https://hooks.example.gov.cn:8443/in"


# -- RabbitMQ ------------------------------------------------------------------------------------------


def rabbit(url: str, queue: str, **extra: Any) -> RabbitMQChannel:
    channel = build_channel("mq", {"type": "rabbitmq", "url": url, "queue": queue, **extra})
    assert isinstance(channel, RabbitMQChannel)
    return channel


def test_rabbitmq_a_batch_arrives_in_order_persistent_in_a_durable_queue(
    rabbit_url: str,  # noqa: F811
    rabbit_queue: str,  # noqa: F811
) -> None:
    channel = rabbit(rabbit_url, rabbit_queue)
    messages = batch(50)
    try:
        assert results(channel.deliver(messages)) == [Result.delivered] * 50
    finally:
        channel.close()
    assert queue_is_durable(rabbit_url, rabbit_queue)
    got = drain_queue(rabbit_url, rabbit_queue)
    assert [body for _, body in got] == [m.body for m in messages]
    for m, (props, _) in zip(messages, got, strict=True):
        assert props.message_id == m.id
        assert props.delivery_mode == 2
        assert props.content_type == "application/json"
        assert props.type == WARNING_RAISED
        assert props.headers == {"region": REGION, "idempotency-key": m.id}
        assert props.timestamp == int(m.created_at.replace(tzinfo=UTC).timestamp())


def test_rabbitmq_publishes_through_a_declared_topic_exchange(
    rabbit_url: str,  # noqa: F811
    rabbit_queue: str,  # noqa: F811
) -> None:
    exchange = rabbit_queue + ".x"
    channel = rabbit(rabbit_url, rabbit_queue, exchange=exchange, routing_key="oversight.warning")
    try:
        assert results(channel.deliver(batch(5))) == [Result.delivered] * 5
        assert "exchange" in channel.describe() and "guest@" in channel.describe()
        assert "guest:guest" not in channel.describe()
    finally:
        channel.close()
        assert len(drain_queue(rabbit_url, rabbit_queue)) == 5
        delete_exchange(rabbit_url, exchange)


def test_rabbitmq_an_unroutable_message_retries(rabbit_url: str, rabbit_queue: str) -> None:  # noqa: F811
    channel = rabbit(rabbit_url, rabbit_queue, declare=False)  # nothing declares the queue
    try:
        outcomes = channel.deliver(batch(2))
    finally:
        channel.close()
    assert results(outcomes) == [Result.retry] * 2
    assert outcomes[0].error is not None and outcomes[0].error.startswith("unroutable")
    assert "NO_ROUTE" in outcomes[0].error


def test_rabbitmq_a_declaration_the_broker_refuses_retries_naming_it(
    rabbit_url: str,  # noqa: F811
    rabbit_queue: str,  # noqa: F811
) -> None:
    import pika

    conn = pika.BlockingConnection(pika.URLParameters(rabbit_url))
    conn.channel().queue_declare(rabbit_queue, durable=False)  # someone made it transient
    conn.close()
    channel = rabbit(rabbit_url, rabbit_queue)
    outcomes = channel.deliver(batch(2))
    channel.close()
    assert results(outcomes) == [Result.retry] * 2
    assert outcomes[0].error is not None and "406" in outcomes[0].error and "durable" in outcomes[0].error


def test_rabbitmq_a_link_idle_too_long_is_reopened(
    rabbit_url: str,  # noqa: F811
    rabbit_queue: str,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from connectors.channels import rabbitmq

    channel = rabbit(rabbit_url, rabbit_queue)
    assert results(channel.deliver(batch(1))) == [Result.delivered]
    first = channel._link
    monkeypatch.setattr(rabbitmq, "IDLE_S", 0.05)
    time.sleep(0.1)
    assert results(channel.deliver(batch(1))) == [Result.delivered]
    assert channel._link is not None and channel._link is not first
    channel.close()
    assert queue_depth(rabbit_url, rabbit_queue) == 2


def test_rabbitmq_unreachable_retries_then_delivers_on_the_real_port(
    rabbit_url: str,  # noqa: F811
    rabbit_queue: str,  # noqa: F811
) -> None:
    dead = rabbit(f"amqp://guest:guest@127.0.0.1:{free_port()}/%2F", rabbit_queue, timeout="3s")
    outcomes = dead.deliver(batch(3))
    assert results(outcomes) == [Result.retry] * 3
    assert outcomes[0].error is not None and outcomes[0].error.startswith("cannot connect")
    dead.close()
    live = rabbit(rabbit_url, rabbit_queue)
    assert results(live.deliver(batch(3))) == [Result.delivered] * 3
    live.close()
    assert queue_depth(rabbit_url, rabbit_queue) == 3


def test_rabbitmq_a_lost_connection_retries_and_the_channel_reconnects(
    rabbit_url: str,  # noqa: F811
    rabbit_queue: str,  # noqa: F811
) -> None:
    relay = TcpRelay("127.0.0.1", 5672).start()
    channel = rabbit(f"amqp://guest:guest@127.0.0.1:{relay.port}/%2F", rabbit_queue, timeout="3s")
    try:
        assert results(channel.deliver(batch(2))) == [Result.delivered] * 2
        relay.stop()  # the kept connection dies under it
        assert results(channel.deliver(batch(4))) == [Result.retry] * 4
        relay.start()
        assert results(channel.deliver(batch(3))) == [Result.delivered] * 3
    finally:
        channel.close()
        relay.stop()
    assert queue_depth(rabbit_url, rabbit_queue) == 5


def test_rabbitmq_confirms_a_large_batch(
    rabbit_url: str,  # noqa: F811
    rabbit_queue: str,  # noqa: F811
    record_property: Any,
) -> None:
    channel = rabbit(rabbit_url, rabbit_queue)
    channel.deliver(batch(1))  # connected and declared
    messages = batch(2000)
    started = time.perf_counter()
    outcomes = channel.deliver(messages)
    rate = len(messages) / (time.perf_counter() - started)
    channel.close()
    assert results(outcomes) == [Result.delivered] * 2000
    # the rate is recorded for information only; speed is measured by bench/feedback.py, not asserted
    record_property("summary", f"RabbitMQ channel: {rate:,.0f} confirmed events/s (batch of 2000)")
    assert queue_depth(rabbit_url, rabbit_queue) == 2001


# -- Redis Streams -------------------------------------------------------------------------------------


def redis_channel(url: str, stream: str, **extra: Any) -> RedisStreamChannel:
    channel = build_channel("stream", {"type": "redis", "url": url, "stream": stream, **extra})
    assert isinstance(channel, RedisStreamChannel)
    return channel


def test_redis_a_batch_is_appended_in_order_with_its_fields(
    redis_url: str,  # noqa: F811
    redis_stream: str,  # noqa: F811
) -> None:
    channel = redis_channel(redis_url, redis_stream)
    messages = batch(20)
    assert results(channel.deliver(messages)) == [Result.delivered] * 20
    channel.close()
    entries = read_stream(redis_url, redis_stream)
    assert [e["id"] for e in entries] == [m.id for m in messages]
    first, m = entries[0], messages[0]
    assert set(first) == {"_entry", "id", "type", "region", "created_at", "body"}
    assert first["body"].encode() == m.body and first["type"] == WARNING_RAISED and first["region"] == REGION
    assert first["created_at"] == m.created_at.isoformat(timespec="milliseconds") + "Z"


def test_redis_maxlen_trims_approximately(redis_url: str, redis_stream: str) -> None:  # noqa: F811
    channel = redis_channel(redis_url, redis_stream, maxlen=10)
    last = batch(300)
    for i in range(0, 300, 50):
        assert results(channel.deliver(last[i : i + 50])) == [Result.delivered] * 50
    entries = read_stream(redis_url, redis_stream)
    assert 10 <= len(entries) < 300  # MAXLEN ~ trims whole nodes: about, never below, the bound
    assert entries[-1]["id"] == last[-1].id
    assert "maxlen ~10" in channel.describe()


def test_redis_unreachable_retries_then_delivers(redis_url: str, redis_stream: str) -> None:  # noqa: F811
    dead = redis_channel(f"redis://127.0.0.1:{free_port()}/0", redis_stream)
    outcomes = dead.deliver(batch(3))
    assert results(outcomes) == [Result.retry] * 3
    assert outcomes[0].error is not None and outcomes[0].error.startswith("ConnectionError")
    live = redis_channel(redis_url, redis_stream)
    assert results(live.deliver(batch(2))) == [Result.delivered] * 2
    assert len(read_stream(redis_url, redis_stream)) == 2


def test_redis_a_lost_connection_retries_and_recovers(redis_url: str, redis_stream: str) -> None:  # noqa: F811
    relay = TcpRelay("127.0.0.1", 6379).start()
    channel = redis_channel(f"redis://127.0.0.1:{relay.port}/0", redis_stream)
    try:
        assert results(channel.deliver(batch(1))) == [Result.delivered]
        relay.stop()
        assert results(channel.deliver(batch(2))) == [Result.retry] * 2
        relay.start()
        assert results(channel.deliver(batch(2))) == [Result.delivered] * 2
    finally:
        channel.close()
        relay.stop()
    assert len(read_stream(redis_url, redis_stream)) == 3


def test_redis_a_command_error_retries_that_message(redis_url: str, redis_stream: str) -> None:  # noqa: F811
    import redis

    client = redis.Redis.from_url(redis_url)
    client.set(redis_stream, "not a stream")
    client.close()
    outcome = redis_channel(redis_url, redis_stream).deliver(batch(1))[0]
    assert outcome.result is Result.retry and outcome.error is not None and "WRONGTYPE" in outcome.error


def test_redis_describe_shows_no_password() -> None:
    channel = redis_channel("redis://:s3cret@cache.example.gov.cn:6380/2", "events")
    assert channel.describe() == "redis redis://cache.example.gov.cn:6380/2 stream 'events'"


# -- SMTP ----------------------------------------------------------------------------------------------


@pytest.fixture
def smtp() -> Iterator[SmtpReceiver]:
    with SmtpReceiver() as s:
        yield s


def mail_channel(port: int, **extra: Any) -> SmtpChannel:
    cfg = {
        "type": "smtp",
        "host": "127.0.0.1",
        "port": port,
        "sender": "预算联网监督 <oversight@czj.example.gov.cn>",
        "recipients": ["jdc@czj.example.gov.cn"],
        "timeout": "5s",
        **extra,
    }
    channel = build_channel("mail", cfg)
    assert isinstance(channel, SmtpChannel)
    return channel


def test_smtp_an_event_arrives_with_its_headers_and_json_attachment(smtp: SmtpReceiver) -> None:
    messages = batch(2)
    assert results(mail_channel(smtp.port).deliver(messages)) == [Result.delivered] * 2
    assert len(smtp.messages) == 2
    mail, m = smtp.messages[0], messages[0]
    assert smtp.envelopes[0] == ("oversight@czj.example.gov.cn", ["jdc@czj.example.gov.cn"])
    assert mail["Message-ID"] == f"<{m.id}@fiscal-oversight>"
    assert mail["X-Oversight-Event-Id"] == m.id
    assert mail["X-Oversight-Event"] == WARNING_RAISED
    assert mail["X-Oversight-Region"] == REGION
    assert mail["Subject"] == f"[预算联网监督] warning.raised {REGION} R001 red"
    text = mail.get_body(("plain",))
    assert text is not None and "rule_code: R001" in text.get_content()
    [attachment] = list(mail.iter_attachments())
    assert attachment.get_content_type() == "application/json"
    assert attachment.get_filename() == f"event-{m.id}.json"
    assert attachment.get_content() == m.body


def test_smtp_an_inquiry_subject_comes_from_its_data_and_cannot_add_headers(smtp: SmtpReceiver) -> None:
    m = message(kind=INQUIRY_RAISED, inquiry_id=3, subject="关于专项资金\r\nBcc: spy@example.com 的询问")
    assert results(mail_channel(smtp.port).deliver([m])) == [Result.delivered]
    mail = smtp.messages[0]
    assert mail["Bcc"] is None
    assert (
        mail["Subject"] == f"[预算联网监督] inquiry.raised {REGION} 关于专项资金 Bcc: spy@example.com 的询问"
    )


def test_smtp_a_recipient_refused_for_good_fails_for_now_retries(smtp: SmtpReceiver) -> None:
    smtp.refuse["jdc@czj.example.gov.cn"] = "550 5.1.1 no such user"
    outcome = mail_channel(smtp.port).deliver(batch(1))[0]
    assert outcome.result is Result.failed and outcome.error is not None and "550" in outcome.error
    smtp.refuse["jdc@czj.example.gov.cn"] = "450 4.2.0 greylisted"
    outcome = mail_channel(smtp.port).deliver(batch(1))[0]
    assert outcome.result is Result.retry and outcome.error is not None and "450" in outcome.error
    assert smtp.messages == []


@pytest.mark.parametrize(
    ("reply", "expected"),
    [("554 5.6.0 content rejected", Result.failed), ("451 4.3.0 try again later", Result.retry)],
)
def test_smtp_a_refused_message_fails_or_retries_by_its_code(
    smtp: SmtpReceiver, reply: str, expected: Result
) -> None:
    smtp.data_reply = reply
    outcomes = mail_channel(smtp.port).deliver(batch(2))
    assert results(outcomes) == [expected] * 2
    assert outcomes[0].error == f"message refused: {reply}"


def test_smtp_one_recipient_refused_of_two_still_delivers(smtp: SmtpReceiver) -> None:
    smtp.refuse["gone@czj.example.gov.cn"] = "550 5.1.1 no such user"
    channel = mail_channel(smtp.port, recipients=["jdc@czj.example.gov.cn", "gone@czj.example.gov.cn"])
    outcome = channel.deliver(batch(1))[0]
    assert outcome.result is Result.delivered and outcome.error is not None
    assert "gone@czj.example.gov.cn: 550" in outcome.error
    assert smtp.envelopes[0][1] == ["jdc@czj.example.gov.cn"]


def test_smtp_a_stopped_server_retries_then_delivers(smtp: SmtpReceiver) -> None:
    channel = mail_channel(smtp.port)
    smtp.stop()
    outcomes = channel.deliver(batch(2))
    assert results(outcomes) == [Result.retry] * 2
    assert outcomes[0].error is not None and outcomes[0].error.startswith("no SMTP session with 127.0.0.1")
    smtp.start()
    assert results(channel.deliver(batch(2))) == [Result.delivered] * 2


# -- the fake channel ----------------------------------------------------------------------------------


@pytest.fixture
def fake() -> Iterator[None]:
    FakeChannel.reset()
    yield
    FakeChannel.reset()


def test_fake_fails_as_scripted_then_records_deliveries(fake: None) -> None:
    config = parse_config({"channels": {"f": {"type": "fake", "fail": 2}}})
    channel = config.channel("f")
    m = message()
    assert [channel.deliver([m])[0].result for _ in range(3)] == [
        Result.retry,
        Result.retry,
        Result.delivered,
    ]
    channel.deliver([m])
    assert FakeChannel.sent["f"] == [m, m]  # duplicates kept: tests can see at-least-once delivery
    assert FakeChannel.attempts[("f", m.id)] == 4
    FakeChannel.reset()
    assert FakeChannel.sent == {} and FakeChannel.attempts == {}


def test_fake_outcomes_and_delay(fake: None) -> None:
    gone = build_channel("g", {"type": "fake", "outcome": "gone", "delay_ms": 100})
    assert results(gone.deliver(batch(2))) == [Result.gone] * 2
    failed = build_channel("x", {"type": "fake", "outcome": "failed"})
    assert results(failed.deliver(batch(1))) == [Result.failed]
    assert "g" not in FakeChannel.sent and FakeChannel.batches["g"] == [2]


# -- configuration errors ------------------------------------------------------------------------------

HOOK = {"type": "webhook", "url": "https://hooks.example.gov.cn/in", "secrets": [SECRET]}
MQ = {"type": "rabbitmq", "url": "amqp://u:p@mq.example.gov.cn/%2F"}
REDIS = {"type": "redis", "url": "redis://cache.example.gov.cn:6379/0"}
MAIL = {"type": "smtp", "host": "smtp.example.gov.cn", "sender": "a@example.gov.cn", "recipients": ["b@x.cn"]}


def without(cfg: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in cfg.items() if k != key}


@pytest.mark.parametrize(
    ("cfg", "expected"),
    [
        (without(HOOK, "url"), "url: required"),
        (without(HOOK, "secrets"), "secrets: required"),
        ({**HOOK, "urll": "x"}, "urll: unknown setting"),
        ({**HOOK, "url": "ftp://hooks.example.gov.cn/in"}, "url: the scheme must be http or https"),
        ({**HOOK, "url": "https:///no-host"}, "url: the URL names no host"),
        ({**HOOK, "secrets": ["not-a-secret"]}, r"secrets\[0\]: a secret is whsec_"),
        ({**HOOK, "secrets": ["", ""]}, "secrets: one or 2 non-empty secrets; got 0"),
        ({**HOOK, "secrets": [SECRET, OLD_SECRET, new_secret()]}, "secrets: one or 2"),
        ({**HOOK, "timeout": "soon"}, "timeout: 'soon' is not a duration"),
        ({**HOOK, "headers": {"Webhook-Signature": "x"}}, "headers.Webhook-Signature: set by the channel"),
        ({**HOOK, "headers": {"X-A": "a\r\nb"}}, "headers.X-A: a single-line string"),
        (without(MQ, "url"), "url: required"),
        ({**MQ, "vhost": "/"}, "vhost: unknown setting"),
        ({**MQ, "url": "http://mq.example.gov.cn"}, "url: the scheme must be amqp or amqps"),
        ({**MQ, "declare": "yes"}, "declare: true or false"),
        ({**MQ, "queue": ""}, "queue: a non-empty string"),
        (without(REDIS, "url"), "url: required"),
        ({**REDIS, "db": 1}, "db: unknown setting"),
        ({**REDIS, "url": "http://cache.example.gov.cn"}, "url: the scheme must be redis or rediss"),
        ({**REDIS, "url": "redis://cache.example.gov.cn/zero"}, "url: the path is a database number"),
        ({**REDIS, "maxlen": 0}, "maxlen: a whole number from 1"),
        (without(MAIL, "host"), "host: required"),
        (without(MAIL, "sender"), "sender: required"),
        ({**MAIL, "recipients": []}, "recipients: a non-empty list"),
        ({**MAIL, "recipients": ["nobody"]}, r"recipients\[0\]: 'nobody' is not an e-mail address"),
        ({**MAIL, "security": "tls"}, "security: one of none, starttls, ssl"),
        ({**MAIL, "username": "u"}, "password: set with the other one"),
        ({**MAIL, "username": "u", "password": "p"}, "username: credentials are sent only over TLS"),
        ({**MAIL, "port": 70000}, "port: a whole number from 1 to 65535"),
        ({**MAIL, "to": ["b@x.cn"]}, "to: unknown setting"),
        ({"type": "fake", "outcome": "maybe"}, "outcome: one of failed, gone"),
        ({"type": "fake", "fails": 1}, "fails: unknown setting"),
    ],
)
def test_channel_settings_are_checked_naming_the_setting(cfg: dict[str, Any], expected: str) -> None:
    with pytest.raises(ConfigError, match=rf"^channels\.ch: {expected}"):
        parse_config({"channels": {"ch": cfg}})


def test_valid_settings_build_every_channel(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOOK_SECRET", SECRET)
    monkeypatch.delenv("HOOK_SECRET_OLD", raising=False)
    config = parse_config(
        {
            "channels": {
                "hook": {**HOOK, "secrets": ["${HOOK_SECRET}", "${HOOK_SECRET_OLD:-}"]},
                "mq": MQ,
                "redis": REDIS,
                "mail": {**MAIL, "port": 587, "username": "u", "password": "p"},
            }
        }
    )
    hook = config.channel("hook")
    assert isinstance(hook, WebhookChannel) and hook.secrets == (SECRET,)
    mail = config.channel("mail")
    assert isinstance(mail, SmtpChannel) and mail.security == "starttls"
    assert "p" not in mail.describe().split()
    assert (
        config.channel("mq").describe() == "rabbitmq amqp://u@mq.example.gov.cn/%2F queue 'oversight.events'"
    )
    assert orjson.loads(message().body)["type"] == WARNING_RAISED
