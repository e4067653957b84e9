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
real value.

A reference is untrusted input: anyone who can signal a run or start one writes fields the
decider and workers decode with their own credentials. So a reference is read only if it names
an object replayflow itself could have written: in the configured bucket, under the configured
prefix, with a uuid4 key, and a size within the maximum. Anything else is refused before any
request is sent (no bucket configured: every reference is refused). The size is checked again
against S3's answer and against the cached copy on every read, and no error reveals the real
size of an object.

Configuration (environment, read when first needed and re-read if it changes):

- ``REPLAYFLOW_JUMBO_FIELDS_BUCKET=bucket[/prefix]``: enables offloading. Without it, an oversize
  field raises `PayloadTooLarge` naming the field, its size, the limit and this variable.
- ``REPLAYFLOW_JUMBO_FIELDS_MAX_SIZE``: the largest payload accepted, in bytes (suffixes such as
  ``50MB`` or ``1GiB`` accepted). See `DEFAULT_MAX_SIZE` for why the default is 256 MiB.
- ``REPLAYFLOW_CACHE_DIR``: replayflow's cache directory; jumbo payloads live in its ``jumbo/``
  subdirectory. Default: ``$XDG_CACHE_HOME/replayflow`` or ``~/.cache/replayflow``.
- ``REPLAYFLOW_CACHE_SIZE``: size limit of the jumbo cache (default 1 GiB, suffixes accepted).

The S3 client comes from the same factory as the SWF clients (`backends.aws.s3_client`): the
standard AWS configuration (botocore honours ``AWS_ENDPOINT_URL`` and ``AWS_ENDPOINT_URL_S3``
itself, so tests and S3-compatible stores need nothing from us), ``REPLAYFLOW_CONNECTION_RETRIES``
attempts per call, finite timeouts, and no more retries of an unreachable endpoint after about
30 s. So a missing bucket or object, or an unreachable endpoint, ends in a one-line
`JumboFieldError`, never a hang.

Several processes of one user on one machine (a decider and a pool of workers) may share one
cache directory: diskcache keeps its index in SQLite with transactions and writes each value to
its own file before indexing it, so concurrent readers and writers never see a half-written
payload. Each process builds its own `JumboStore` (the default store is rebuilt after a fork).

The cache trusts nothing it did not write itself. It stores raw bytes only, and a row in any
other diskcache mode (a pickle, above all: diskcache would unpickle it on read) is refused and
deleted, as is a row whose file name diskcache could not have made. Its directory is created
0700 and its files 0600; a directory owned by another user, or writable by group or others, is
refused (`check_config` at start-up, one line; later, the store reads from S3 uncached).
"""

from __future__ import annotations

import io
import logging
import os
import re
import stat
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
    "check_reference",
    "decode_field",
    "default_store",
    "encode_field",
    "is_reference",
    "parse_reference",
    "parse_size",
    "prepare_cache_dir",
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
_UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# A size is at most this many digits: 10**20 bytes is more than any store holds, and int() of
# thousands of digits would be slow, or refused by Python itself.
_MAX_SIZE_DIGITS = 20
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
    if (not bucket or not key or not size_text.isascii() or not size_text.isdigit()
            or len(size_text) > _MAX_SIZE_DIGITS):
        raise JumboFieldError(
            f"malformed jumbo-field reference {text[:200]!r}: "
            f"expected {REFERENCE_SCHEME}bucket/key <size>"
        )
    return bucket, key, int(size_text)


def _format_reference(bucket: str, key: str, size: int) -> str:
    return f"{REFERENCE_SCHEME}{bucket}/{key} {size}"


def _cache_key(bucket: str, key: str) -> str:
    return f"s3://{bucket}/{key}"


def check_reference(text: str, config: JumboConfig) -> tuple[str, str, int]:
    """Parse a reference and refuse it unless `config` allows reading it; nothing is fetched.

    Allowed: the configured bucket, a key made of the configured prefix and a uuid4 (what
    `encode_field` writes, nothing else in the bucket), a size within the maximum. Errors name
    the setting that decides, and never anything about the object itself.
    """
    bucket, key, size = parse_reference(text)
    shown = repr(text[:200])
    if not config.bucket:
        raise JumboFieldError(
            f"jumbo-field reference {shown} refused: {BUCKET_ENV} is not set, and only that "
            "bucket is ever read; set it to the bucket[/prefix] your runs write to. Nothing was "
            "fetched"
        )
    base = f"{config.prefix}/" if config.prefix else ""
    if (bucket != config.bucket or not key.startswith(base)
            or not _UUID_RE.fullmatch(key[len(base):])):
        raise JumboFieldError(
            f"jumbo-field reference {shown} refused: it is outside {BUCKET_ENV} "
            f"({config.location}<uuid> only). Nothing was fetched"
        )
    if size > config.max_size:
        raise JumboFieldError(
            f"jumbo-field reference {shown} refused: it names {size} bytes, over {MAX_SIZE_ENV} "
            f"({config.max_size} bytes). Nothing was fetched"
        )
    return bucket, key, size


# --- the store ----------------------------------------------------------------------------------


@dataclass
class JumboStats:
    """What this process's store did; tests count S3 GETs with it, operators read it in logs."""

    s3_gets: int = 0
    s3_puts: int = 0
    cache_hits: int = 0
    cache_misses: int = 0


class ForeignCacheRow(Exception):
    """A cache row that this module did not write (another mode, an odd file name)."""


# diskcache's own file names: 32 random hex digits as two directory levels and a file.
_CACHE_FILE_RE = re.compile(r"[0-9a-f]{2}/[0-9a-f]{2}/[0-9a-f]{28}\.val")
_OPEN_READ = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
_OPEN_NEW = (os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
             | getattr(os, "O_CLOEXEC", 0))


def _new_disk_class():
    """A diskcache Disk that stores and reads raw bytes only, in files only their user can read.

    diskcache's own Disk pickles any value that is not str, bytes or a number, and unpickles a
    row stored in pickle mode on read: a row planted in a shared cache would run code. Here
    every value is a stream written to a file (mode BINARY); a row in any other mode, or whose
    file name diskcache could not have made (an absolute path, `..`), is refused by `fetch`
    with ForeignCacheRow and never deleted from outside the cache. Keys are plain strings (no
    pickled keys either). A streamed write that fails removes its half-written file, which
    diskcache's `store(read=True)` would leave behind outside the size limit.
    """
    import diskcache
    from diskcache.core import MODE_BINARY, UNKNOWN

    class RawBytesDisk(diskcache.Disk):
        def put(self, key: Any) -> tuple[Any, bool]:
            if type(key) is not str:
                raise TypeError(f"jumbo cache keys are strings, not {type(key).__name__}")
            return key, True

        def get(self, key: Any, raw: bool) -> Any:
            if not raw or type(key) is not str:
                raise ForeignCacheRow("a key that is not a plain string")
            return key

        def store(self, value: Any, read: bool, key: Any = UNKNOWN):
            if not read:
                raise TypeError("the jumbo cache stores streams of raw bytes only")
            filename, full_path = self.filename(key, value)
            first = os.path.dirname(os.path.dirname(full_path))
            for directory in (first, os.path.dirname(full_path)):
                try:
                    os.mkdir(directory, 0o700)
                except FileExistsError:
                    pass
            try:
                with os.fdopen(os.open(full_path, _OPEN_NEW, 0o600), "wb") as out:
                    size = 0
                    while chunk := value.read(_CHUNK):
                        out.write(chunk)
                        size += len(chunk)
            except BaseException:
                try:
                    os.remove(full_path)
                except OSError:
                    pass
                raise
            return size, MODE_BINARY, filename, None

        def fetch(self, mode: int, filename: Any, value: Any, read: bool) -> Any:
            if mode != MODE_BINARY or not read or value is not None:
                raise ForeignCacheRow(f"a row in diskcache mode {mode}, not raw bytes")
            if not isinstance(filename, str) or not _CACHE_FILE_RE.fullmatch(filename):
                raise ForeignCacheRow(f"a row whose file is {str(filename)[:80]!r}")
            fd = os.open(os.path.join(self._directory, filename), _OPEN_READ)
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                os.close(fd)
                raise ForeignCacheRow(f"a row whose file {filename} is not a regular file")
            return os.fdopen(fd, "rb")

        def remove(self, file_path: Any) -> None:
            if isinstance(file_path, str) and _CACHE_FILE_RE.fullmatch(file_path):
                super().remove(file_path)

    return RawBytesDisk


# --- the cache directory ------------------------------------------------------------------------


_DB_FILES = ("cache.db", "cache.db-wal", "cache.db-shm")


def prepare_cache_dir(config: JumboConfig) -> Path:
    """Create the cache directory 0700 (and its SQLite file 0600), or refuse an unsafe one.

    Refused, with a ConfigurationError of one line: a directory (or database file) owned by
    another user, or writable by group or others; whoever can write there could plant rows.
    replayflow's own `jumbo/` directory and files are narrowed to their owner if an older
    version left them readable by others. Returns the diskcache directory.
    """
    uid = os.geteuid() if hasattr(os, "geteuid") else None
    base, path = config.cache_dir, config.cache_path
    try:
        base.parent.mkdir(parents=True, exist_ok=True)
        for directory in (base, path):
            try:
                directory.mkdir(mode=0o700)
            except FileExistsError:
                pass
            _check_owned(directory, uid, is_dir=True)
        if stat.S_IMODE(path.stat().st_mode) & 0o077:
            path.chmod(0o700)
        database = path / _DB_FILES[0]
        try:
            os.close(os.open(database, _OPEN_NEW, 0o600))
        except FileExistsError:
            pass
        for name in _DB_FILES:
            file = path / name
            if file.exists() or file.is_symlink():
                _check_owned(file, uid, is_dir=False)
                if stat.S_IMODE(file.lstat().st_mode) & 0o077:
                    file.chmod(0o600)
    except OSError as exc:
        raise ConfigurationError(
            f"{CACHE_DIR_ENV}: cannot prepare the jumbo cache in {base}: {exc.strerror or exc}"
        ) from None
    return path


def _check_owned(path: Path, uid: int | None, *, is_dir: bool) -> None:
    info = path.lstat()
    kind = "directory" if is_dir else "file"
    if stat.S_ISLNK(info.st_mode) and not is_dir:
        raise ConfigurationError(f"{CACHE_DIR_ENV}: {path} is a symbolic link; the jumbo cache "
                                 "uses real files only. Remove it, or use another directory")
    info = path.stat()
    if is_dir and not stat.S_ISDIR(info.st_mode):
        raise ConfigurationError(f"{CACHE_DIR_ENV}: {path} is not a directory")
    if uid is not None and info.st_uid != uid:
        raise ConfigurationError(
            f"{CACHE_DIR_ENV}: the {kind} {path} belongs to uid {info.st_uid}, not to this user "
            f"(uid {uid}); a cache is never shared between users. Use a directory of your own"
        )
    if info.st_mode & 0o022:
        raise ConfigurationError(
            f"{CACHE_DIR_ENV}: the {kind} {path} is writable by group or others (mode "
            f"{stat.S_IMODE(info.st_mode):04o}), who could plant cache rows; run chmod go-w "
            f"{path}, or use a directory of your own"
        )


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
        self._cache_refused: str | None = None  # why the cache directory is not used, if not
        self._lock = threading.Lock()

    # -- lazily built resources --------------------------------------------------------------

    @property
    def client(self) -> Any:
        """The boto3 S3 client; register botocore event hooks on ``client.meta.events``."""
        if self._client is None:
            with self._lock:
                if self._client is None:
                    from .backends import aws  # boto3 only once a big field is met

                    self._client = aws.s3_client()
        return self._client

    @property
    def cache(self) -> Any:
        """The diskcache.Cache holding payloads as raw UTF-8 files, keyed by ``s3://bucket/key``.

        ConfigurationError if its directory is unsafe (see `prepare_cache_dir`); the store then
        works without a cache, and says so once in the log.
        """
        if self._cache is None:
            with self._lock:
                if self._cache is None:
                    if self._cache_refused is not None:
                        raise ConfigurationError(self._cache_refused)
                    try:
                        directory = prepare_cache_dir(self.config)
                    except ConfigurationError as exc:
                        self._cache_refused = str(exc)
                        log.warning("jumbo cache not used: %s; payloads are read from S3 every "
                                    "time", exc)
                        raise
                    import diskcache

                    self._cache = diskcache.Cache(
                        str(directory),
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
                f"cannot store {field_name} ({len(data)} bytes) at s3://{bucket}/{key}: "
                f"{self._aws_problem(exc)}"
            ) from exc
        self.stats.s3_puts += 1

    # -- decode --------------------------------------------------------------------------------

    def decode_field(self, text: str | None) -> str | None:
        """See the module-level `decode_field`."""
        if not is_reference(text):
            return text
        assert text is not None
        bucket, key, size = check_reference(text, self.config)  # before any request
        ckey = _cache_key(bucket, key)
        cached = self._cache_read(ckey, size)
        if cached is not None:
            self.stats.cache_hits += 1
            return cached
        self.stats.cache_misses += 1
        body = self._get(text, bucket, key, size)
        try:
            stored = self._cache_put(ckey, _Bounded(body, size, text), size)
        except Exception as exc:  # a broken stream or a cache write error (disk full...)
            log.warning("jumbo cache: could not store %s (%s); reading it uncached", text, exc)
            body.close()
            stored = False
            body = self._get(text, bucket, key, size)
        if stored:
            body.close()
            cached = self._cache_read(ckey, size)
            if cached is not None:
                return cached
            # Evicted by another process between our write and our read, or the stream was not
            # the size S3 announced: fetch once more, and read it checked, uncached.
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
            raise JumboFieldError(
                f"cannot read jumbo field {reference}: {self._aws_problem(exc)}") from exc
        self.stats.s3_gets += 1
        length = response.get("ContentLength")
        if length is not None and length != size:
            response["Body"].close()
            # Never say how big the object really is: the reference may be someone's probe.
            raise JumboFieldError(
                f"jumbo field {reference}: the stored object is not the {size} bytes the "
                "reference names; refused"
            )
        return response["Body"]

    def _aws_problem(self, exc: Exception) -> str:
        """What went wrong talking to S3, in the words the SWF backend uses too (an unreachable
        endpoint names the variables that set it, missing credentials those that give them)."""
        from .backends import aws

        endpoint = getattr(getattr(self._client, "meta", None), "endpoint_url", None)
        translated = aws.translate_error(exc, endpoint=endpoint, service="s3")
        return str(translated if translated is not exc else exc)

    # -- cache ---------------------------------------------------------------------------------

    def _usable_cache(self) -> Any:
        """The cache, or None when its directory was refused (already logged once)."""
        if self._cache_refused is not None:
            return None
        try:
            return self.cache
        except ConfigurationError:
            return None

    def _cache_put(self, ckey: str, stream: IO[bytes], size: int) -> bool:
        """Stream `stream` into the cache; False if the payload cannot fit even in an empty cache.

        A payload larger than the cache would evict everything and then itself, so it is not
        cached at all (every read of it is a GET). False too without a usable cache.
        """
        cache = self._usable_cache()
        if cache is None or not self._make_room(cache, size):
            return False
        cache.set(ckey, stream, read=True)
        return True

    def _make_room(self, cache: Any, size: int) -> bool:
        """Evict least-recently-used payloads, one at a time, until `size` more bytes fit.

        diskcache's own culling is disabled (cull_limit=0): it evicts in batches of up to ten
        entries, which for payloads of megabytes empties most of the cache, the new entry
        included. Here only as many entries go as the new one needs. Rows go by rowid, so a row
        `Cache.delete` cannot address (a pickled key, an expiry in the past) cannot stall this.
        """
        limit = self.config.cache_size
        if size >= limit:  # would evict everything and still not fit: do not even start
            return False
        last = None
        while cache.volume() + size > limit:
            # diskcache keeps LRU order in an indexed access_time column (its documented policy);
            # reading it is the only way to evict one entry rather than a batch of ten.
            rows = cache._sql("SELECT rowid FROM Cache ORDER BY access_time LIMIT 1").fetchall()
            if not rows or rows[0][0] == last:
                return cache.volume() + size <= limit
            last = rows[0][0]
            _delete_row(cache, last)
        return True

    def _cache_read(self, ckey: str, size: int) -> str | None:
        """The cached payload, if the cache has it at exactly `size` bytes; else None (use S3).

        A row this module did not write is deleted on sight; a file of another size is left for
        the fetch that follows to replace.
        """
        cache = self._usable_cache()
        if cache is None:
            return None
        try:
            handle = cache.get(ckey, read=True)  # touches the LRU access time
        except ForeignCacheRow as exc:
            log.warning("jumbo cache: refused %s (%s); deleting it", ckey, exc)
            try:
                cache.delete(ckey)
            except Exception as error:  # noqa: BLE001 - the refusal stands either way
                log.warning("jumbo cache: could not delete %s (%s)", ckey, error)
            return None
        except Exception as exc:  # a locked or damaged cache must not stop the workflow
            log.warning("jumbo cache: could not read %s (%s); using S3", ckey, exc)
            return None
        if handle is None:
            return None
        with handle:
            if os.fstat(handle.fileno()).st_size != size:
                log.warning("jumbo cache: %s is not the %d bytes its reference names; using S3",
                            ckey, size)
                return None
            data = handle.read(size + 1)
        if len(data) != size:  # changed under us
            return None
        return data.decode("utf-8", "surrogatepass")


def _delete_row(cache: Any, rowid: int) -> None:
    """Delete one cache row and its file (diskcache's own transaction and file clean-up)."""
    with cache._transact(retry=True) as (sql, cleanup):
        rows = sql("SELECT filename FROM Cache WHERE rowid = ?", (rowid,)).fetchall()
        if rows:
            sql("DELETE FROM Cache WHERE rowid = ?", (rowid,))
            cleanup(rows[0][0])


class _Bounded(io.RawIOBase):
    """A stream that refuses to yield more than `size` bytes: nothing larger reaches the disk."""

    def __init__(self, body: Any, size: int, reference: str) -> None:
        self._body = body
        self._left = size
        self._reference = reference

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        chunk = self._body.read(_CHUNK if n is None or n < 0 else n)
        self._left -= len(chunk)
        if self._left < 0:
            raise JumboFieldError(f"jumbo field {self._reference} is longer than the size its "
                                  "reference names; refused")
        return chunk


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
            raise JumboFieldError(f"jumbo field {reference} is longer than the size its "
                                  "reference names; refused")
        view[position:end] = chunk
        position = end
    if position != size:  # how much shorter is not said: the size is the object's own business
        raise JumboFieldError(f"jumbo field {reference} is shorter than the size its reference "
                              "names; refused")
    view.release()
    return buffer


# --- module-level API ---------------------------------------------------------------------------

_default: JumboStore | None = None
_default_key: tuple | None = None
_default_lock = threading.Lock()

# Env vars the default S3 client is built from (which S3, whose credentials, how many retries),
# besides the jumbo REPLAYFLOW_* ones. Spelled out, not imported: backends.aws imports boto3.
_AWS_ENV = (
    "REPLAYFLOW_CONNECTION_RETRIES",  # backends.aws.RETRIES_ENV
    "AWS_RETRY_MODE",
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

    Raises JumboFieldError, naming the reference, if it is refused (outside the configured
    bucket and prefix, over the maximum size: nothing is fetched), or if the bucket or object is
    gone, unreadable or not the size the reference names.
    """
    if text is None or not text.startswith(REFERENCE_SCHEME):
        return text
    return default_store().decode_field(text)


def check_config(field_limit: int = SMALLEST_FIELD_LIMIT) -> JumboConfig:
    """Validate the jumbo-field settings at start-up, so a bad value fails before any work.

    Returns the parsed configuration. Raises ConfigurationError for a bad size, a bucket name S3
    would refuse, a bucket/prefix leaving no room for a reference in a `field_limit` field, or
    (with a bucket) a cache directory owned by someone else or writable by group or others.
    """
    config = JumboConfig.from_env()
    config.check(field_limit)
    if config.bucket:  # the cache is used only with a bucket: refuse an unsafe one up front
        prepare_cache_dir(config)
    return config


def split_reason(reason: str, limit: int = MAX_REASON) -> tuple[str, str | None]:
    """Fit a failure reason into SWF's 256 characters without losing it.

    Returns (short_reason, full_text): the full text is None when the reason already fits, else
    the caller stores it in the details field (which is itself jumbo-capable).
    """
    if len(reason) <= limit:
        return reason, None
    return truncate_reason(reason, limit), reason
