"""Jumbo fields on a real moto S3 server: round trips, cache, eviction, failures, processes."""

from __future__ import annotations

import hashlib
import multiprocessing
import uuid
from pathlib import Path

import boto3
import pytest
from support.moto_server import free_port

from replayflow import jumbo
from replayflow.backends import aws
from replayflow.encoding import MAX_INPUT
from replayflow.errors import ConfigurationError, JumboFieldError

pytestmark = pytest.mark.integration

PREFIX = "runs/jumbo"


@pytest.fixture
def jumbo_env(aws_env, s3_bucket, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Offloading on, to a fresh bucket, with a cache in tmp_path; yields the bucket name."""
    monkeypatch.setenv(jumbo.BUCKET_ENV, f"{s3_bucket}/{PREFIX}")
    monkeypatch.setenv(jumbo.CACHE_DIR_ENV, str(tmp_path / "cache"))
    monkeypatch.delenv(jumbo.MAX_SIZE_ENV, raising=False)
    monkeypatch.delenv(jumbo.CACHE_SIZE_ENV, raising=False)
    jumbo.reset_default_store()
    yield s3_bucket
    jumbo.reset_default_store()


def count_gets(store: jumbo.JumboStore) -> list[str]:
    """Record every S3 GetObject the store's client sends (botocore's own event hook)."""
    calls: list[str] = []

    def before_get(params, **_):
        calls.append(params["Key"])

    store.client.meta.events.register("before-parameter-build.s3.GetObject", before_get)
    return calls


def payload(size: int, seed: str = "") -> str:
    """A JSON-looking text of exactly `size` characters, different for each seed."""
    head = f'["{seed}{uuid.uuid4().hex}",'
    return head + "7" * (size - len(head) - 1) + "]"


@pytest.mark.parametrize("size", [100_000, 5_000_000, 50_000_000], ids=["100kB", "5MB", "50MB"])
def test_round_trip_through_s3(jumbo_env, size):
    text = payload(size)
    reference = jumbo.encode_field("input", text, MAX_INPUT)

    assert jumbo.is_reference(reference)
    assert len(reference) <= MAX_INPUT
    bucket, key, ref_size = jumbo.parse_reference(reference)
    assert bucket == jumbo_env
    assert key.startswith(PREFIX + "/")
    assert ref_size == size
    head = boto3.client("s3").head_object(Bucket=bucket, Key=key)
    assert head["ContentLength"] == size

    # A reader on another machine: empty cache, so the payload comes from S3...
    jumbo.default_store().cache.clear()
    reader = jumbo.default_store()
    gets = count_gets(reader)
    assert jumbo.decode_field(reference) == text
    assert gets == [key]
    # ...once: the second read is served by the cache.
    assert jumbo.decode_field(reference) == text
    assert gets == [key]


def test_writer_reads_its_own_payload_without_a_get(jumbo_env):
    text = payload(200_000)
    reference = jumbo.encode_field("result", text, MAX_INPUT)
    gets = count_gets(jumbo.default_store())
    assert jumbo.decode_field(reference) == text
    assert gets == []


def test_a_new_store_on_the_same_cache_dir_reads_from_the_cache(jumbo_env):
    config = jumbo.JumboConfig.from_env()
    text = payload(150_000)
    reference = jumbo.JumboStore(config).encode_field("details", text, MAX_INPUT)
    other = jumbo.JumboStore(config)
    gets = count_gets(other)
    assert other.decode_field(reference) == text
    assert gets == []
    assert other.stats.cache_hits == 1


def test_non_ascii_payload_size_is_in_bytes(jumbo_env):
    text = "ç€😀" * 20_000  # 60,000 characters, 180,000 UTF-8 bytes
    reference = jumbo.encode_field("input", text, MAX_INPUT)
    assert jumbo.parse_reference(reference)[2] == len(text.encode("utf-8"))
    jumbo.default_store().cache.clear()
    assert jumbo.decode_field(reference) == text


def test_endpoint_from_aws_endpoint_url_s3_alone(jumbo_env, aws_env, monkeypatch):
    # botocore itself honours the service-specific variable; we rely on it, not on our own code.
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", aws_env["AWS_ENDPOINT_URL"])
    store = jumbo.default_store()
    assert store.client.meta.endpoint_url == aws_env["AWS_ENDPOINT_URL"]
    text = payload(40_000)
    reference = jumbo.encode_field("input", text, MAX_INPUT)
    store.cache.clear()
    assert jumbo.decode_field(reference) == text


# --- cache size limit -------------------------------------------------------------------------


def test_eviction_keeps_the_cache_under_its_size_limit(jumbo_env, monkeypatch):
    limit = 1_000_000
    monkeypatch.setenv(jumbo.CACHE_SIZE_ENV, str(limit))
    store = jumbo.default_store()
    texts = [payload(150_000, seed=str(i)) for i in range(12)]  # 1.8 MB in all
    references = [jumbo.encode_field("input", text, MAX_INPUT) for text in texts]

    assert store.cache.volume() <= limit
    gets = count_gets(store)
    # The newest payload is still local; the oldest was evicted and comes back from S3.
    assert jumbo.decode_field(references[-1]) == texts[-1]
    assert gets == []
    assert jumbo.decode_field(references[0]) == texts[0]
    assert gets == [jumbo.parse_reference(references[0])[1]]
    assert store.cache.volume() <= limit


def test_eviction_is_least_recently_used(jumbo_env, monkeypatch):
    monkeypatch.setenv(jumbo.CACHE_SIZE_ENV, "1MiB")
    store = jumbo.default_store()
    a, b, c, d = (payload(300_000, seed=name) for name in "abcd")
    ref_a, ref_b, ref_c = (jumbo.encode_field("input", t, MAX_INPUT) for t in (a, b, c))
    assert jumbo.decode_field(ref_a) == a  # a is now more recent than b
    jumbo.encode_field("input", d, MAX_INPUT)  # over 1 MiB: one payload must go

    gets = count_gets(store)
    assert jumbo.decode_field(ref_a) == a
    assert jumbo.decode_field(ref_c) == c
    assert gets == []
    assert jumbo.decode_field(ref_b) == b
    assert gets == [jumbo.parse_reference(ref_b)[1]]


def test_payload_larger_than_the_whole_cache_still_decodes(jumbo_env, monkeypatch):
    monkeypatch.setenv(jumbo.CACHE_SIZE_ENV, "100kB")
    store = jumbo.default_store()
    small = payload(40_000, seed="small")
    ref_small = jumbo.encode_field("input", small, MAX_INPUT)
    big = payload(300_000, seed="big")
    ref_big = jumbo.encode_field("input", big, MAX_INPUT)

    gets = count_gets(store)
    assert jumbo.decode_field(ref_big) == big
    assert jumbo.decode_field(ref_big) == big
    assert len(gets) == 2  # never cached...
    assert jumbo.decode_field(ref_small) == small
    assert len(gets) == 2  # ...and it did not push the small one out


# --- failures ---------------------------------------------------------------------------------


def test_missing_bucket_is_a_jumbo_field_error_naming_the_reference(jumbo_env, monkeypatch):
    missing = f"no-such-bucket-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv(jumbo.BUCKET_ENV, f"{missing}/k")  # configured, then deleted, say
    reference = f"replayflow+s3://{missing}/k/{uuid.uuid4()} 50000"
    with pytest.raises(JumboFieldError) as info:
        jumbo.decode_field(reference)
    assert reference in str(info.value)
    assert "does not exist" in str(info.value)


def test_deleted_object_is_a_jumbo_field_error_naming_the_reference(jumbo_env):
    reference = jumbo.encode_field("input", payload(60_000), MAX_INPUT)
    bucket, key, _ = jumbo.parse_reference(reference)
    boto3.client("s3").delete_object(Bucket=bucket, Key=key)
    jumbo.default_store().cache.clear()
    with pytest.raises(JumboFieldError) as info:
        jumbo.decode_field(reference)
    assert reference in str(info.value)
    assert "does not exist" in str(info.value)


def test_size_mismatch_is_detected(jumbo_env):
    reference = jumbo.encode_field("input", payload(60_000), MAX_INPUT)
    bucket, key, size = jumbo.parse_reference(reference)
    jumbo.default_store().cache.clear()
    for wrong_size in (size + 1, size - 1):
        wrong = jumbo._format_reference(bucket, key, wrong_size)
        with pytest.raises(JumboFieldError) as info:
            jumbo.decode_field(wrong)
        assert f"is not the {wrong_size} bytes the reference names; refused" in str(info.value)
        assert str(size) not in str(info.value).replace(wrong, "")  # the real size stays secret


def test_upload_to_a_missing_bucket_is_a_jumbo_field_error(jumbo_env, monkeypatch):
    monkeypatch.setenv(jumbo.BUCKET_ENV, f"no-such-bucket-{uuid.uuid4().hex[:8]}")
    with pytest.raises(JumboFieldError, match="cannot store input"):
        jumbo.encode_field("input", payload(40_000), MAX_INPUT)


@pytest.mark.parametrize("attempts", [1, 3])
def test_an_unreachable_s3_endpoint_is_one_line_after_the_configured_attempts(
        jumbo_env, monkeypatch, attempts):
    """S3 gets its client from the SWF backend's factory: REPLAYFLOW_CONNECTION_RETRIES attempts,
    then the same one-line "Cannot reach" error, naming the variable that sets the endpoint."""
    closed = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", closed)
    monkeypatch.setenv(aws.RETRIES_ENV, str(attempts))
    store = jumbo.default_store()
    sent: list[str] = []
    store.client.meta.events.register("before-send.s3", lambda request, **_: sent.append(
        request.url))
    reference = f"replayflow+s3://{jumbo_env}/{PREFIX}/{uuid.uuid4()} 50000"

    with pytest.raises(JumboFieldError) as info:
        jumbo.decode_field(reference)

    message = str(info.value)
    assert "\n" not in message
    assert reference in message
    assert f"Cannot reach {closed}" in message and "AWS_ENDPOINT_URL_S3" in message
    assert len(sent) == attempts and all(url.startswith(closed) for url in sent)


def test_the_s3_client_has_the_shared_timeouts_and_retries(jumbo_env, monkeypatch):
    monkeypatch.setenv(aws.RETRIES_ENV, "7")
    config = jumbo.default_store().client.meta.config
    assert config.retries["total_max_attempts"] == 7
    assert config.connect_timeout == aws.CALL_CONNECT_TIMEOUT
    assert config.read_timeout == aws.S3_READ_TIMEOUT


def test_a_bad_retries_setting_is_a_one_line_configuration_error(jumbo_env, monkeypatch):
    monkeypatch.setenv(aws.RETRIES_ENV, "none")
    reference = f"replayflow+s3://{jumbo_env}/{PREFIX}/{uuid.uuid4()} 50000"
    with pytest.raises(ConfigurationError, match=aws.RETRIES_ENV) as info:
        jumbo.decode_field(reference)
    assert "\n" not in str(info.value)


# --- several processes, one cache directory ---------------------------------------------------


def _decode_in_child(references: list[str]) -> tuple[list[str], int]:
    """Run in a spawned process: decode every reference, return digests and the GETs it sent."""
    store = jumbo.default_store()
    gets = count_gets(store)
    digests = [
        hashlib.sha256(jumbo.decode_field(ref).encode("utf-8")).hexdigest() for ref in references
    ]
    return digests, len(gets)


def _encode_in_child(texts: list[str]) -> list[str]:
    return [jumbo.encode_field("input", text, MAX_INPUT) for text in texts]


def test_processes_share_one_cache_directory(jumbo_env):
    texts = [payload(500_000, seed=str(i)) for i in range(6)]
    digests = [hashlib.sha256(t.encode("utf-8")).hexdigest() for t in texts]
    context = multiprocessing.get_context("spawn")  # a clean interpreter, as a worker would be
    # A writer process: its uploads land in the shared cache.
    with context.Pool(1) as writer:
        references = writer.apply(_encode_in_child, (texts[:3],))
    # Uploaded from elsewhere (another machine), so absent from this cache.
    other = jumbo.JumboStore(jumbo.JumboConfig.from_env())
    for text in texts[3:]:
        reference = other.encode_field("input", text, MAX_INPUT)
        bucket, key, _ = jumbo.parse_reference(reference)
        assert other.cache.delete(jumbo._cache_key(bucket, key))
        references.append(reference)
    other.close()

    # Two reader processes at once, in opposite orders, racing on the same missing entries.
    with context.Pool(1) as first, context.Pool(1) as second:
        forward = first.apply_async(_decode_in_child, (references,))
        backward = second.apply_async(_decode_in_child, (references[::-1],))
        got_forward, gets_forward = forward.get(timeout=120)
        got_backward, gets_backward = backward.get(timeout=120)

    assert got_forward == digests
    assert got_backward == digests[::-1]
    # The writer's payloads were never fetched; the others at most once per reader.
    assert gets_forward <= 3 and gets_backward <= 3
    # Afterwards everything is local: this process decodes all six with no GET.
    store = jumbo.default_store()
    gets = count_gets(store)
    assert [jumbo.decode_field(ref) for ref in references] == texts
    assert gets == []
