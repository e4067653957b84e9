"""Jumbo fields: SWF string fields too large for SWF, kept in S3 and cached on local disk.

SWF caps input, result, details and control at 32,768 characters and a failure reason at 256.
Every boundary that writes such a field (decider, worker, local backend, CLI) passes the text
through `encode_field`; every boundary that reads one passes it through `decode_field`. Small
fields go through untouched, so the common case costs one `len()` or one `startswith()`.

A field over its limit is uploaded to S3 under a fresh uuid4 key and replaced by a reference::

    replayflow+s3://bucket/optional/prefix/5f0c...e1 1048576

The trailing number is the payload's size in bytes (UTF-8). Keys are never reused, so an object
never changes once written, and a local copy can be trusted forever: reads go through a diskcache
`Cache` (LRU, size-limited), so the decider replaying a history, or a worker retrying a task,
fetches each payload from S3 at most once per machine. The writer puts its own payload in the
cache too, so its later reads are free.

A field value is JSON, which never starts with ``r``, so a reference cannot be confused with a
real value. A reference names its own bucket, so reading needs no configuration, only credentials.

Configuration (environment, read when first needed and re-read if it changes):

- ``REPLAYFLOW_JUMBO_FIELDS_BUCKET=bucket[/prefix]``: enables offloading. Without it, an oversize
  field raises `PayloadTooLarge` naming the field, its size, the limit and this variable.
- ``REPLAYFLOW_JUMBO_FIELDS_MAX_SIZE``: the largest payload accepted, in bytes (suffixes such as
  ``50MB`` or ``1GiB`` accepted). See `DEFAULT_MAX_SIZE` for why the default is 256 MiB.
- ``REPLAYFLOW_CACHE_DIR``: replayflow's cache directory; jumbo payloads live in its ``jumbo/``
  subdirectory. Default: ``$XDG_CACHE_HOME/replayflow`` or ``~/.cache/replayflow``.
- ``REPLAYFLOW_CACHE_SIZE``: size limit of the jumbo cache (default 1 GiB, suffixes accepted).

The S3 client is a plain ``boto3.client("s3")``: the installed botocore honours
``AWS_ENDPOINT_URL`` and ``AWS_ENDPOINT_URL_S3`` itself, so tests and S3-compatible stores need
nothing from us. Its retries are bounded (standard mode, 4 attempts) and its timeouts finite, so
a missing bucket or object, or an unreachable endpoint, ends in `JumboFieldError`, never a hang.

Several processes on one machine (a decider and a pool of workers) may share one cache directory:
diskcache keeps its index in SQLite with transactions and writes each value to its own file
before indexing it, so concurrent readers and writers never see a half-written payload. Each
process builds its own `JumboStore` (the default store is rebuilt after a fork).
"""

from __future__ import annotations

import io
import logging
import os
import re
import shutil
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from .encoding import MAX_CONTROL, MAX_DETAILS, MAX_INPUT, MAX_REASON, MAX_RESULT, truncate_reason
from .errors import ConfigurationError, JumboFieldError, PayloadTooLarge

log = logging.getLogger(__name__)

__all__ = [
    "BUCKET_ENV",
    "CACHE_DIR_ENV",
    "CACHE_SIZE_ENV",
    "DEFAULT_CACHE_SIZE",
    "DEFAULT_MAX_SIZE",
    "MAX_SIZE_ENV",
    "REFERENCE_SCHEME",
    "JumboConfig",
    "JumboStats",
    "JumboStore",
    "check_config",
    "decode_field",
    "default_store",
    "encode_field",
    "is_reference",
    "parse_reference",
    "parse_size",
    "reset_default_store",
    "split_reason",
]

BUCKET_ENV = "REPLAYFLOW_JUMBO_FIELDS_BUCKET"
MAX_SIZE_ENV = "REPLAYFLOW_JUMBO_FIELDS_MAX_SIZE"
CACHE_DIR_ENV = "REPLAYFLOW_CACHE_DIR"
CACHE_SIZE_ENV = "REPLAYFLOW_CACHE_SIZE"

REFERENCE_SCHEME = "replayflow+s3://"

DEFAULT_MAX_SIZE = 256 * 1024 * 1024
"""256 MiB: fifty times simpleflow's 5 MB, yet still safe to hold in a worker.

A payload is not only stored, it is read back whole: decoding briefly holds the UTF-8 bytes and
the Python str (about 2x the payload), and `json.loads` of it typically needs several times more.
At 256 MiB that is a few GiB in the worst case, which a worker host can absorb; at gigabytes it
would not be. It also keeps four maximal payloads inside the default 1 GiB cache, so one large
field does not evict everything else. Raise it with REPLAYFLOW_JUMBO_FIELDS_MAX_SIZE when the
hosts are sized for it.
"""

DEFAULT_CACHE_SIZE = 1024 * 1024 * 1024
"""1 GiB of local disk: room for hundreds of typical payloads, small next to any worker disk."""

# The smallest SWF field a reference is ever written into (input/result/details/control).
SMALLEST_FIELD_LIMIT = min(MAX_INPUT, MAX_RESULT, MAX_DETAILS, MAX_CONTROL)

# S3 rejects object keys over 1,024 bytes of UTF-8.
MAX_S3_KEY_BYTES = 1024
_UUID_LEN = 36
_CHUNK = 4 * 1024 * 1024  # streaming granularity: bounded memory, few syscalls

# Bucket names: S3's rules (3-63 chars, lowercase letters, digits, '.', '-'), plus '_' and
# uppercase for the legacy us-east-1 names that still exist. What matters for the reference is
# that there is no '/', whitespace or ':' in it.
_BUCKET_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,61}[A-Za-z0-9]$")

_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$")
_SIZE_UNITS = {
    "": 1,
    "b": 1,
    "k": 10**3, "kb": 10**3, "m": 10**6, "mb": 10**6,
    "g": 10**9, "gb": 10**9, "t": 10**12, "tb": 10**12,
    "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40,
}  # fmt: skip


def parse_size(text: str, setting: str = "size") -> int:
    """Read a byte count such as ``1048576``, ``50MB`` or ``1.5GiB`` (KB=1000, KiB=1024).

    `setting` names the env var in the error, so a typo is reported where it was made.
    """
    match = _SIZE_RE.match(text)
    unit = match.group(2).lower() if match else None
    if match is None or unit not in _SIZE_UNITS:
        raise ConfigurationError(
            f"{setting}={text!r} is not a size; use bytes or a suffix like 50MB, 512MiB, 1GiB"
        )
    size = int(float(match.group(1)) * _SIZE_UNITS[unit])
    if size <= 0:
        raise ConfigurationError(f"{setting}={text!r} must be more than 0 bytes")
    return size


def _default_cache_dir(environ: Mapping[str, str]) -> Path:
    xdg = environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "replayflow"


# --- configuration ------------------------------------------------------------------------------


@dataclass(frozen=True)
class JumboConfig:
    """Where and how jumbo fields are stored. Immutable, so a changed env means a new store."""

    bucket: str | None = None
    prefix: str = ""
    max_size: int = DEFAULT_MAX_SIZE
    cache_dir: Path = field(default_factory=lambda: _default_cache_dir(os.environ))
    cache_size: int = DEFAULT_CACHE_SIZE

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> JumboConfig:
        """Read the REPLAYFLOW_* variables (see the module docstring); bad values raise now."""
        env = os.environ if environ is None else environ
        bucket: str | None = None
        prefix = ""
        location = env.get(BUCKET_ENV, "").strip()
        if location:
            if location.startswith("s3://"):  # a common slip; accept it rather than fail
                location = location[len("s3://"):]
            bucket, _, prefix = location.partition("/")
            prefix = prefix.strip("/")
            if not bucket:
                raise ConfigurationError(
                    f"{BUCKET_ENV}={env[BUCKET_ENV]!r} names no bucket; use bucket[/prefix]"
                )
        max_size = DEFAULT_MAX_SIZE
        if env.get(MAX_SIZE_ENV, "").strip():
            max_size = parse_size(env[MAX_SIZE_ENV], MAX_SIZE_ENV)
        cache_size = DEFAULT_CACHE_SIZE
        if env.get(CACHE_SIZE_ENV, "").strip():
            cache_size = parse_size(env[CACHE_SIZE_ENV], CACHE_SIZE_ENV)
        cache_dir_text = env.get(CACHE_DIR_ENV, "").strip()
        cache_dir = Path(cache_dir_text).expanduser() if cache_dir_text else _default_cache_dir(env)
        return cls(bucket=bucket, prefix=prefix, max_size=max_size, cache_dir=cache_dir,
                   cache_size=cache_size)

    @property
    def cache_path(self) -> Path:
        """The diskcache directory (a subdirectory, so other replayflow caches can sit beside)."""
        return self.cache_dir / "jumbo"

    @property
    def location(self) -> str:
        """``s3://bucket/prefix/`` for messages; empty without a bucket."""
        if not self.bucket:
            return ""
        return f"s3://{self.bucket}/{self.prefix + '/' if self.prefix else ''}"

    def reference_length(self) -> int:
        """The length of the longest reference this configuration can produce."""
        base = self._key_base(self.bucket or "")
        return len(REFERENCE_SCHEME) + len(base) + _UUID_LEN + 1 + len(str(self.max_size))

    def _key_base(self, bucket: str) -> str:
        return f"{bucket}/{self.prefix + '/' if self.prefix else ''}"

    def check(self, field_limit: int = SMALLEST_FIELD_LIMIT) -> None:
        """Reject a configuration whose references could not be written; never truncate.

        A reference must fit in the smallest field it is written to, and its key must fit S3's
        1,024-byte key limit; a bad bucket name would make the reference unparseable.
        """
        if not self.bucket:
            return
        if not _BUCKET_RE.match(self.bucket) or ".." in self.bucket:
            raise ConfigurationError(
                f"{BUCKET_ENV}: {self.bucket!r} is not a valid S3 bucket name (3-63 letters, "
                "digits, '.', '-'; starting and ending with a letter or digit)"
            )
        if any(ch.isspace() for ch in self.prefix) or "//" in self.prefix:
            raise ConfigurationError(
                f"{BUCKET_ENV}: the prefix {self.prefix!r} must not contain whitespace or '//'"
            )
        key_bytes = len((self.prefix + "/").encode("utf-8")) + _UUID_LEN if self.prefix else 0
        if key_bytes > MAX_S3_KEY_BYTES:
            raise ConfigurationError(
                f"{BUCKET_ENV}: the prefix is {len(self.prefix)} characters; with the 36-character "
                f"uuid each key would be {key_bytes} bytes, over S3's {MAX_S3_KEY_BYTES}-byte key "
                "limit. Use a shorter prefix."
            )
        length = self.reference_length()
        if length > field_limit:
            raise ConfigurationError(
                f"{BUCKET_ENV}: a reference to {self.location} would be {length} characters, over "
                f"the {field_limit}-character field it must fit in. Use a shorter prefix."
            )


# --- references ---------------------------------------------------------------------------------


def is_reference(text: object) -> bool:
    """True if `text` is a jumbo-field reference. One `startswith`: safe on every field read."""
    return isinstance(text, str) and text.startswith(REFERENCE_SCHEME)


def parse_reference(text: str) -> tuple[str, str, int]:
    """Split a reference into (bucket, key, size in bytes); JumboFieldError if it is malformed."""
    if not is_reference(text):
        raise JumboFieldError(f"not a jumbo-field reference: {text[:80]!r}")
    location, _, size_text = text[len(REFERENCE_SCHEME):].rpartition(" ")
    bucket, _, key = location.partition("/")
    if not bucket or not key or not size_text.isdigit():
        raise JumboFieldError(
            f"malformed jumbo-field reference {text[:200]!r}: "
            f"expected {REFERENCE_SCHEME}bucket/key <size>"
        )
    return bucket, key, int(size_text)


def _format_reference(bucket: str, key: str, size: int) -> str:
    return f"{REFERENCE_SCHEME}{bucket}/{key} {size}"


def _cache_key(bucket: str, key: str) -> str:
    return f"s3://{bucket}/{key}"


# --- the store ----------------------------------------------------------------------------------


@dataclass
class JumboStats:
    """What this process's store did; tests count S3 GETs with it, operators read it in logs."""

    s3_gets: int = 0
    s3_puts: int = 0
    cache_hits: int = 0
    cache_misses: int = 0


def _new_disk_class():
    """A diskcache Disk that removes its half-written file when a streamed write fails.

    diskcache's own `store(read=True)` leaves the partial file behind if the reader raises (here:
    a broken S3 stream), which would leak disk outside the size limit. Only the read=True path is
    replaced; everything else, and the on-disk format, stays diskcache's.
    """
    import diskcache
    from diskcache.core import MODE_BINARY, UNKNOWN

    class CleaningDisk(diskcache.Disk):
        def store(self, value: Any, read: bool, key: Any = UNKNOWN):
            if not read:
                return super().store(value, read, key=key)
            filename, full_path = self.filename(key, value)
            os.makedirs(os.path.dirname(full_path), exist_ok=True)
            try:
                with open(full_path, "xb") as out:
                    shutil.copyfileobj(value, out, _CHUNK)
                    size = out.tell()
            except BaseException:
                try:
                    os.remove(full_path)
                except OSError:
                    pass
                raise
            return size, MODE_BINARY, filename, None

    return CleaningDisk


class JumboStore:
    """S3 + local cache behind `encode_field` / `decode_field`.

    Build one per process (the module-level functions do it for you). `client` and `cache` are
    created on first use, so a process that never meets a large field never imports boto3.
    """

    def __init__(self, config: JumboConfig, client: Any = None) -> None:
        self.config = config
        self.stats = JumboStats()
        self._client = client
        self._cache: Any = None
        self._lock = threading.Lock()

    # -- lazily built resources --------------------------------------------------------------

    @property
    def client(self) -> Any:
        """The boto3 S3 client; register botocore event hooks on ``client.meta.events``."""
        if self._client is None:
            with self._lock:
                if self._client is None:
                    import boto3
                    from botocore.config import Config

                    self._client = boto3.client(
                        "s3",
                        config=Config(
                            retries={"mode": "standard", "max_attempts": 4},
                            connect_timeout=10,
                            read_timeout=60,
                        ),
                    )
        return self._client

    @property
    def cache(self) -> Any:
        """The diskcache.Cache holding payloads as raw UTF-8 files, keyed by ``s3://bucket/key``."""
        if self._cache is None:
            with self._lock:
                if self._cache is None:
                    import diskcache

                    self._cache = diskcache.Cache(
                        str(self.config.cache_path),
                        size_limit=self.config.cache_size,
                        eviction_policy="least-recently-used",
                        cull_limit=0,  # eviction is ours: see _make_room
                        disk=_new_disk_class(),
                    )
        return self._cache

    def close(self) -> None:
        """Close the cache's SQLite connections (the S3 client needs nothing)."""
        if self._cache is not None:
            self._cache.close()

    # -- encode --------------------------------------------------------------------------------

    def encode_field(self, field_name: str, text: str, limit: int) -> str:
        """See the module-level `encode_field`."""
        if len(text) <= limit:
            return text
        config = self.config
        if not config.bucket:
            raise PayloadTooLarge(
                field_name, len(text), limit,
                f"set {BUCKET_ENV}=bucket[/prefix] to store large fields in S3",
            )
        config.check(limit)
        if len(text) > config.max_size:  # a UTF-8 encoding is never shorter than the str
            self._too_big(field_name, text, limit, len(text))
        data = text.encode("utf-8", "surrogatepass")
        size = len(data)
        if size > config.max_size:
            self._too_big(field_name, text, limit, size)
        key = f"{config.prefix + '/' if config.prefix else ''}{uuid.uuid4()}"
        self._upload(field_name, data, key)
        try:
            self._cache_put(_cache_key(config.bucket, key), io.BytesIO(data), size)
        except Exception as exc:  # the payload is safe in S3; a cache failure only costs a GET
            log.warning("jumbo cache: could not store %s/%s (%s)", config.bucket, key, exc)
        return _format_reference(config.bucket, key, size)

    def _too_big(self, field_name: str, text: str, limit: int, size: int) -> None:
        raise PayloadTooLarge(
            field_name, len(text), limit,
            f"at {size} bytes it is also over the jumbo-field maximum of {self.config.max_size} "
            f"bytes; raise {MAX_SIZE_ENV} (e.g. 1GiB) or send a smaller payload",
        )

    def _upload(self, field_name: str, data: bytes, key: str) -> None:
        from boto3.exceptions import S3UploadFailedError
        from boto3.s3.transfer import TransferConfig
        from botocore.exceptions import BotoCoreError, ClientError

        bucket = self.config.bucket
        try:
            # Managed transfer: one PUT below 8 MiB, parallel multipart above.
            self.client.upload_fileobj(
                io.BytesIO(data), bucket, key,
                ExtraArgs={"ContentType": "text/plain; charset=utf-8"},
                Config=TransferConfig(
                    multipart_threshold=8 * 1024 * 1024,
                    multipart_chunksize=8 * 1024 * 1024,
                    max_concurrency=8,
                ),
            )
        except (S3UploadFailedError, ClientError, BotoCoreError) as exc:
            raise JumboFieldError(
                f"cannot store {field_name} ({len(data)} bytes) at s3://{bucket}/{key}: {exc}"
            ) from exc
        self.stats.s3_puts += 1

    # -- decode --------------------------------------------------------------------------------

    def decode_field(self, text: str | None) -> str | None:
        """See the module-level `decode_field`."""
        if not is_reference(text):
            return text
        assert text is not None
        bucket, key, size = parse_reference(text)
        ckey = _cache_key(bucket, key)
        cached = self._cache_read(ckey)
        if cached is not None:
            self.stats.cache_hits += 1
            return cached
        self.stats.cache_misses += 1
        body = self._get(text, bucket, key, size)
        try:
            stored = self._cache_put(ckey, body, size)
        except Exception as exc:  # a broken stream or a cache write error (disk full...)
            log.warning("jumbo cache: could not store %s (%s); reading it uncached", text, exc)
            body.close()
            stored = False
            body = self._get(text, bucket, key, size)
        if stored:
            body.close()
            cached = self._cache_read(ckey)
            if cached is not None:
                return cached
            # Evicted by another process between our write and our read: fetch once more.
            body = self._get(text, bucket, key, size)
        try:
            return _read_exact(body, size, text).decode("utf-8", "surrogatepass")
        except JumboFieldError:
            raise
        except Exception as exc:  # botocore's stream errors, urllib3's, OSError
            raise JumboFieldError(f"cannot read jumbo field {text}: {exc}") from exc
        finally:
            body.close()

    def _get(self, reference: str, bucket: str, key: str, size: int) -> Any:
        """Start a GET; return the streaming body. Every failure is a JumboFieldError."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            response = self.client.get_object(Bucket=bucket, Key=key)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in ("NoSuchBucket",):
                why = f"bucket {bucket!r} does not exist"
            elif code in ("NoSuchKey", "404", "NotFound"):
                why = "the object does not exist (deleted, or expired by a lifecycle rule?)"
            elif code in ("AccessDenied", "403"):
                why = "access denied (the credentials cannot read this bucket or key)"
            else:
                why = str(exc)
            raise JumboFieldError(f"cannot read jumbo field {reference}: {why}") from exc
        except BotoCoreError as exc:
            raise JumboFieldError(f"cannot read jumbo field {reference}: {exc}") from exc
        self.stats.s3_gets += 1
        length = response.get("ContentLength")
        if length is not None and length != size:
            response["Body"].close()
            raise JumboFieldError(
                f"jumbo field {reference} names {size} bytes but S3 holds {length}"
            )
        return response["Body"]

    # -- cache ---------------------------------------------------------------------------------

    def _cache_put(self, ckey: str, stream: IO[bytes], size: int) -> bool:
        """Stream `stream` into the cache; False if the payload cannot fit even in an empty cache.

        A payload larger than the cache would evict everything and then itself, so it is not
        cached at all (every read of it is a GET).
        """
        if not self._make_room(size):
            return False
        self.cache.set(ckey, stream, read=True)
        return True

    def _make_room(self, size: int) -> bool:
        """Evict least-recently-used payloads, one at a time, until `size` more bytes fit.

        diskcache's own culling is disabled (cull_limit=0): it evicts in batches of up to ten
        entries, which for payloads of megabytes empties most of the cache, the new entry
        included. Here only as many entries go as the new one needs.
        """
        cache = self.cache
        limit = self.config.cache_size
        if size >= limit:  # would evict everything and still not fit: do not even start
            return False
        while cache.volume() + size > limit:
            # diskcache keeps LRU order in an indexed access_time column (its documented policy);
            # reading it is the only way to evict one entry rather than a batch of ten.
            rows = cache._sql("SELECT key FROM Cache ORDER BY access_time LIMIT 1").fetchall()
            if not rows:
                return cache.volume() + size <= limit
            cache.delete(rows[0][0])
        return True

    def _cache_read(self, ckey: str) -> str | None:
        try:
            handle = self.cache.get(ckey, read=True)  # touches the LRU access time
        except Exception as exc:  # a locked or damaged cache must not stop the workflow
            log.warning("jumbo cache: could not read %s (%s); using S3", ckey, exc)
            return None
        if handle is None:
            return None
        with handle:
            data = handle.read()
        return data.decode("utf-8", "surrogatepass")


def _read_exact(body: Any, size: int, reference: str) -> bytearray:
    """Read a streaming body into one preallocated buffer (no list of chunks, no join copy)."""
    buffer = bytearray(size)
    view = memoryview(buffer)
    position = 0
    while True:
        chunk = body.read(_CHUNK)
        if not chunk:
            break
        end = position + len(chunk)
        if end > size:
            raise JumboFieldError(f"jumbo field {reference} is longer than its {size} bytes")
        view[position:end] = chunk
        position = end
    if position != size:
        raise JumboFieldError(f"jumbo field {reference}: read {position} of {size} bytes")
    view.release()
    return buffer


# --- module-level API ---------------------------------------------------------------------------

_default: JumboStore | None = None
_default_key: tuple | None = None
_default_lock = threading.Lock()

# Env vars that change which S3 the default client talks to, besides the REPLAYFLOW_* ones.
_AWS_ENV = (
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_PROFILE",
    "AWS_ACCESS_KEY_ID",
)


def default_store() -> JumboStore:
    """This process's store for the current environment.

    Built on first use; rebuilt when the REPLAYFLOW_* or AWS endpoint/credential variables change
    or the process has forked (boto3 clients and SQLite connections must not cross a fork).
    """
    global _default, _default_key
    config = JumboConfig.from_env()
    key = (config, os.getpid(), tuple(os.environ.get(name) for name in _AWS_ENV))
    store = _default
    if store is not None and _default_key == key:
        return store
    with _default_lock:
        if _default is None or _default_key != key:
            _default, _default_key = JumboStore(config), key
        return _default


def reset_default_store() -> None:
    """Forget the default store (tests; or after changing configuration by hand)."""
    global _default, _default_key
    with _default_lock:
        if _default is not None and _default_key is not None and _default_key[1] == os.getpid():
            _default.close()
        _default, _default_key = None, None


def encode_field(field_name: str, text: str, limit: int) -> str:
    """Return `text` if it fits in `limit` characters, else a reference to a copy in S3.

    `field_name` ("input", "result", "details", "control") appears in every error. Raises
    PayloadTooLarge without a bucket or above the maximum size, ConfigurationError if the bucket
    setting cannot produce a reference that fits `limit`, JumboFieldError if the upload fails.
    """
    if len(text) <= limit:
        return text
    return default_store().encode_field(field_name, text, limit)


def decode_field(text: str | None) -> str | None:
    """Return the payload a reference names (local cache first, else S3), or `text` unchanged.

    Raises JumboFieldError, naming the reference, if the bucket or object is gone or unreadable.
    """
    if text is None or not text.startswith(REFERENCE_SCHEME):
        return text
    return default_store().decode_field(text)


def check_config(field_limit: int = SMALLEST_FIELD_LIMIT) -> JumboConfig:
    """Validate the jumbo-field settings at start-up, so a bad value fails before any work.

    Returns the parsed configuration. Raises ConfigurationError for a bad size, a bucket name S3
    would refuse, or a bucket/prefix leaving no room for a reference in a `field_limit` field.
    """
    config = JumboConfig.from_env()
    config.check(field_limit)
    return config


def split_reason(reason: str, limit: int = MAX_REASON) -> tuple[str, str | None]:
    """Fit a failure reason into SWF's 256 characters without losing it.

    Returns (short_reason, full_text): the full text is None when the reason already fits, else
    the caller stores it in the details field (which is itself jumbo-capable).
    """
    if len(reason) <= limit:
        return reason, None
    return truncate_reason(reason, limit), reason
