"""Jumbo fields without S3: configuration, references, the small-field fast paths, errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from replayflow import jumbo
from replayflow.encoding import MAX_INPUT, MAX_REASON
from replayflow.errors import ConfigurationError, JumboFieldError, PayloadTooLarge


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    for name in (jumbo.BUCKET_ENV, jumbo.MAX_SIZE_ENV, jumbo.CACHE_SIZE_ENV):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(jumbo.CACHE_DIR_ENV, str(tmp_path / "cache"))
    jumbo.reset_default_store()
    yield
    jumbo.reset_default_store()


# --- sizes and configuration ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1048576", 1048576),
        ("50MB", 50_000_000),
        ("50mb", 50_000_000),
        ("512MiB", 512 * 2**20),
        ("1GiB", 2**30),
        ("1.5GiB", int(1.5 * 2**30)),
        (" 10 kB ", 10_000),
        ("2k", 2000),
    ],
)
def test_parse_size_accepts_plain_bytes_and_suffixes(text, expected):
    assert jumbo.parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "lots", "10 parsecs", "-5MB", "0"])
def test_parse_size_rejects_nonsense_naming_the_setting(text):
    with pytest.raises(ConfigurationError, match=jumbo.MAX_SIZE_ENV):
        jumbo.parse_size(text, jumbo.MAX_SIZE_ENV)


def test_config_defaults_without_env(tmp_path):
    config = jumbo.JumboConfig.from_env({"XDG_CACHE_HOME": str(tmp_path)})
    assert config.bucket is None
    assert config.max_size == jumbo.DEFAULT_MAX_SIZE
    assert config.max_size > 5 * 10**6  # well above simpleflow's 5 MB
    assert config.cache_size == jumbo.DEFAULT_CACHE_SIZE
    assert config.cache_dir == tmp_path / "replayflow"
    assert config.cache_path == tmp_path / "replayflow" / "jumbo"


def test_config_from_env_reads_bucket_prefix_and_sizes(tmp_path):
    config = jumbo.JumboConfig.from_env(
        {
            jumbo.BUCKET_ENV: "my-bucket/some/prefix/",
            jumbo.MAX_SIZE_ENV: "50MB",
            jumbo.CACHE_DIR_ENV: str(tmp_path),
            jumbo.CACHE_SIZE_ENV: "10MiB",
        }
    )
    assert (config.bucket, config.prefix) == ("my-bucket", "some/prefix")
    assert config.max_size == 50_000_000
    assert config.cache_size == 10 * 2**20
    assert config.cache_dir == tmp_path
    assert config.location == "s3://my-bucket/some/prefix/"


def test_config_accepts_an_s3_url_and_a_bare_bucket():
    config = jumbo.JumboConfig.from_env({jumbo.BUCKET_ENV: "s3://my-bucket"})
    assert (config.bucket, config.prefix) == ("my-bucket", "")


def test_a_prefix_without_bucket_is_rejected(monkeypatch):
    monkeypatch.setenv(jumbo.BUCKET_ENV, "/only/prefix")
    with pytest.raises(ConfigurationError, match="names no bucket"):
        jumbo.check_config()


def test_check_config_accepts_a_normal_setting(monkeypatch):
    monkeypatch.setenv(jumbo.BUCKET_ENV, "my-bucket/replayflow/jumbo")
    config = jumbo.check_config()
    assert config.bucket == "my-bucket"


def test_check_config_without_bucket_is_fine():
    assert jumbo.check_config().bucket is None


def test_too_long_prefix_is_rejected_not_truncated(monkeypatch):
    monkeypatch.setenv(jumbo.BUCKET_ENV, "my-bucket/" + "p" * 2000)
    with pytest.raises(ConfigurationError) as info:
        jumbo.check_config()
    message = str(info.value)
    assert jumbo.BUCKET_ENV in message
    assert "shorter prefix" in message


def test_reference_must_fit_the_field_it_is_used_for(monkeypatch):
    # 900 characters of prefix fit S3's key limit and a 32,768-character field...
    monkeypatch.setenv(jumbo.BUCKET_ENV, "my-bucket/" + "p" * 900)
    assert jumbo.check_config(MAX_INPUT).reference_length() > 900
    # ...but not a smaller one: refused, with the lengths in the message.
    with pytest.raises(ConfigurationError, match=r"would be \d+ characters, over the 500"):
        jumbo.check_config(500)


def test_reference_length_counts_every_part():
    config = jumbo.JumboConfig(bucket="bkt", prefix="pre", max_size=1000)
    reference = jumbo._format_reference("bkt", "pre/" + "u" * 36, 1000)
    assert config.reference_length() == len(reference)


@pytest.mark.parametrize("bucket", ["a", "has space", "UPPER_", "-dash", "x" * 64, "a..b", "b:c"])
def test_bad_bucket_names_are_rejected(monkeypatch, bucket):
    monkeypatch.setenv(jumbo.BUCKET_ENV, f"{bucket}/prefix")
    with pytest.raises(ConfigurationError, match="not a valid S3 bucket name"):
        jumbo.check_config()


def test_prefix_with_whitespace_is_rejected(monkeypatch):
    monkeypatch.setenv(jumbo.BUCKET_ENV, "my-bucket/two words")
    with pytest.raises(ConfigurationError, match="whitespace"):
        jumbo.check_config()


def test_bad_max_size_is_a_configuration_error(monkeypatch):
    monkeypatch.setenv(jumbo.MAX_SIZE_ENV, "huge")
    with pytest.raises(ConfigurationError, match=jumbo.MAX_SIZE_ENV):
        jumbo.check_config()


# --- references -------------------------------------------------------------------------------


def test_reference_round_trip():
    reference = jumbo._format_reference("bkt", "a/b/c-uuid", 123456)
    assert jumbo.is_reference(reference)
    assert jumbo.parse_reference(reference) == ("bkt", "a/b/c-uuid", 123456)


@pytest.mark.parametrize("text", [None, "", '"replayflow+s3://x"', "[1, 2]", "s3://bkt/key 3", 42])
def test_values_are_not_references(text):
    assert not jumbo.is_reference(text)


@pytest.mark.parametrize(
    "text", ["replayflow+s3://bkt/key", "replayflow+s3://bkt 12", "replayflow+s3://bkt/key x"]
)
def test_malformed_reference_is_a_jumbo_field_error(text):
    with pytest.raises(JumboFieldError, match="malformed"):
        jumbo.parse_reference(text)


# --- encode / decode without S3 ---------------------------------------------------------------


def test_small_fields_pass_through_untouched():
    text = "x" * MAX_INPUT
    assert jumbo.encode_field("input", text, MAX_INPUT) is text
    assert jumbo.decode_field(text) is text
    assert jumbo.decode_field(None) is None
    assert jumbo.decode_field("") == ""


def test_oversize_without_bucket_names_field_size_limit_and_env_var():
    text = "y" * (MAX_INPUT + 10)
    with pytest.raises(PayloadTooLarge) as info:
        jumbo.encode_field("result", text, MAX_INPUT)
    error = info.value
    assert (error.field, error.size, error.limit) == ("result", MAX_INPUT + 10, MAX_INPUT)
    message = str(error)
    assert "result" in message
    assert str(MAX_INPUT + 10) in message
    assert str(MAX_INPUT) in message
    assert jumbo.BUCKET_ENV in message


def test_over_max_size_names_the_max_size_env_var(monkeypatch):
    # The size check happens before any S3 call, so no endpoint is needed.
    monkeypatch.setenv(jumbo.BUCKET_ENV, "my-bucket")
    monkeypatch.setenv(jumbo.MAX_SIZE_ENV, "40000")
    text = "é" * 30_000  # 30,000 characters but 60,000 bytes: the limit is in bytes
    with pytest.raises(PayloadTooLarge) as info:
        jumbo.encode_field("input", text, 20_000)
    message = str(info.value)
    assert jumbo.MAX_SIZE_ENV in message
    assert "60000 bytes" in message
    assert "40000" in message


def test_encode_refuses_a_field_too_small_for_any_reference(monkeypatch):
    monkeypatch.setenv(jumbo.BUCKET_ENV, "my-bucket/prefix")
    with pytest.raises(ConfigurationError, match="over the 50-character field"):
        jumbo.encode_field("control", "z" * 100, 50)


def test_default_store_follows_the_environment(monkeypatch, tmp_path):
    first = jumbo.default_store()
    assert jumbo.default_store() is first
    monkeypatch.setenv(jumbo.CACHE_DIR_ENV, str(tmp_path / "elsewhere"))
    second = jumbo.default_store()
    assert second is not first
    assert second.config.cache_dir == tmp_path / "elsewhere"


# --- reasons ----------------------------------------------------------------------------------


def test_short_reason_is_kept_whole():
    assert jumbo.split_reason("ValueError: bad") == ("ValueError: bad", None)
    exact = "r" * MAX_REASON
    assert jumbo.split_reason(exact) == (exact, None)


def test_long_reason_is_cut_with_ellipsis_and_kept_in_full():
    reason = "KeyError: " + "k" * 1000
    short, full = jumbo.split_reason(reason)
    assert len(short) == MAX_REASON
    assert short.endswith("…")
    assert reason.startswith(short[:-1])
    assert full == reason


def test_small_fields_never_import_boto3():
    """The S3 client (from backends.aws) is built on the first big field, not at import."""
    import subprocess
    import sys

    code = ("import sys; from replayflow import jumbo; "
            "assert jumbo.decode_field(jumbo.encode_field('input', '[1]', 100)) == '[1]'; "
            "print(sorted(m for m in ('boto3', 'botocore', 'replayflow.backends.aws') "
            "if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=True)
    assert done.stdout.strip() == "[]"
