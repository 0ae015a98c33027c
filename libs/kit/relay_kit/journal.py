"""A service's data folder for the MongoDB stand-in: a snapshot plus an append-only journal of writes.

Every write the stand-in performs is appended to `journal.bson` and fsynced before the call returns: the
operation's name and its arguments (BSON, as PyMongo would send them to a server), plus the ObjectIds and
the clock it drew, so replaying it on the same state gives the same documents. At start the snapshot is
loaded, the journal is replayed on top, and both are compacted into a new snapshot; the journal is compacted
again whenever it grows past a size. A record torn by a crash mid-write (short, or failing its CRC) ends the
journal: it is moved aside to `journal.bson.torn-<time>` and the start goes on with everything before it.

Each record and snapshot entry is framed as `<length:uint32><crc32:uint32><BSON document>`. One process at a
time owns a folder (an exclusive `flock` on `LOCK`, released by the kernel when the process dies).
"""

import contextlib
import datetime
import fcntl
import logging
import os
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import bson
import mongomock
import mongomock.collection
from bson.codec_options import CodecOptions
from bson.binary import UuidRepresentation
from mongomock import helpers
from pymongo.errors import PyMongoError

log = logging.getLogger(__name__)

FORMAT = 1
SNAPSHOT = "snapshot.bson"
JOURNAL = "journal.bson"
LOCK = "LOCK"
DEFAULT_COMPACT_AFTER_BYTES = 1024 * 1024

ARGUMENTS = CodecOptions(tz_aware=True, tzinfo=datetime.UTC, uuid_representation=UuidRepresentation.STANDARD)
"""How arguments travel through the journal: as PyMongo sends them to a server (aware UTC datetimes)."""
STORED = CodecOptions(tz_aware=False, uuid_representation=UuidRepresentation.STANDARD)
"""How stored documents are kept by mongomock (naive UTC datetimes, millisecond precision)."""

_FRAME = struct.Struct("<II")

Perform = Callable[[mongomock.Collection, str, list[Any], dict[str, Any]], Any]
"""Runs one write operation on a mongomock collection (the stand-in's own, so replay means the same)."""
Encode = Callable[[str, list[Any], dict[str, Any]], dict[str, Any]]
Decode = Callable[[str, dict[str, Any]], tuple[list[Any], dict[str, Any]]]


class DataFolderInUse(RuntimeError):
    """Another process holds this data folder."""


class CorruptSnapshot(RuntimeError):
    """The snapshot cannot be read: starting empty would silently lose every document, so the start stops."""


class JournalUnavailable(PyMongoError):
    """A write could not be made durable; the stand-in refuses further work until the process restarts."""


class Journal:
    """The data folder of one stand-in client: loads it into mongomock, then journals every write."""

    def __init__(self, path: Path, *, client: mongomock.MongoClient, perform: Perform, encode: Encode,
                 decode: Decode, compact_after_bytes: int = DEFAULT_COMPACT_AFTER_BYTES) -> None:
        self.path = Path(path)
        self._client = client
        self._perform = perform
        self._encode = encode
        self._decode = decode
        self.compact_after_bytes = compact_after_bytes
        self._lock = threading.Lock()
        self._broken: BaseException | None = None
        self._seq = 0
        self._size = 0
        self.path.mkdir(parents=True, exist_ok=True)
        self._lock_fd = _lock_folder(self.path)
        try:
            self.restored = self._load()
            self._fd = os.open(self.path / JOURNAL, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            self._size = os.fstat(self._fd).st_size
            if self._size:
                self.compact()
        except BaseException:
            os.close(self._lock_fd)
            raise

    # --- writing ------------------------------------------------------------------------------------------------

    def write(self, *, database: str, collection: str, operation: str, args: list[Any],
              kwargs: dict[str, Any], rolled_back: Callable[[BaseException], bool]) -> Any:
        """Perform one write on the in-memory data and journal it durably before returning its result.

        A write that fails and was undone (`rolled_back`) leaves no record; one that failed part-way (an
        ordered insert_many stopping at a duplicate) is journaled, so replay reproduces the part that happened.
        """
        with self._lock:
            if self._broken is not None:
                raise JournalUnavailable(f"the data folder {self.path} could not be written ({self._broken}); "
                                         "restart the service") from self._broken
            # the arguments go through BSON before mongomock sees them, live as at replay (and as to a server)
            body = bson.encode(self._encode(operation, args, kwargs), codec_options=ARGUMENTS)
            now = _mongo_now()
            target = self._client[database][collection]
            failure: BaseException | None = None
            with _drawing(now=now, ids=()) as drawn:
                try:
                    result = self._perform(target, operation, *self._decode(operation, bson.decode(
                        body, codec_options=ARGUMENTS)))
                except Exception as error:
                    if rolled_back(error):
                        raise
                    failure = error
            self._seq += 1
            record = {"s": self._seq, "d": database, "c": collection, "o": operation, "b": body, "i": drawn,
                      "t": _millis(now), "f": failure is not None}
            self._append(_frame(bson.encode(record, codec_options=STORED)))
            if self._size > self.compact_after_bytes:
                self._compact_or_carry_on()
            if failure is not None:
                raise failure
            return result

    def _append(self, frame: bytes) -> None:
        try:
            view = memoryview(frame)
            while view:
                view = view[os.write(self._fd, view):]
            _datasync(self._fd)
            self._size += len(frame)
        except OSError as error:
            self._broken = error
            log.critical("journal write to %s failed; refusing further writes until restart", self.path,
                         exc_info=True)
            raise JournalUnavailable(f"the data folder {self.path} could not be written: {error}") from error

    # --- compaction -----------------------------------------------------------------------------------------------

    def compact(self) -> None:
        """Write every collection to a new snapshot (atomically replaced), then empty the journal."""
        started = time.monotonic()
        journal_bytes = self._size
        temporary = self.path / f"{SNAPSHOT}.tmp"
        count = 0
        with open(temporary, "wb") as output:
            output.write(_frame(bson.encode({"format": FORMAT, "seq": self._seq}, codec_options=STORED)))
            for database_name in self._client.list_database_names():
                database = self._client[database_name]
                for collection_name in database.list_collection_names():
                    store = database[collection_name]._store  # mongomock's own state: documents as stored
                    indexes = [{"name": name, **spec, "key": [list(pair) for pair in spec["key"]]}
                               for name, spec in store.indexes.items()]
                    output.write(_frame(bson.encode({"d": database_name, "c": collection_name, "indexes": indexes},
                                                    codec_options=STORED)))
                    for document in store.documents:
                        output.write(_frame(bson.encode({"x": document}, codec_options=STORED)))
                        count += 1
            output.write(_frame(bson.encode({"end": True, "documents": count}, codec_options=STORED)))
            output.flush()
            os.fsync(output.fileno())
        os.replace(temporary, self.path / SNAPSHOT)
        _sync_folder(self.path)
        # a crash from here on replays nothing twice: the snapshot names the last record it holds
        os.ftruncate(self._fd, 0)
        os.fsync(self._fd)
        self._size = 0
        log.info("data folder %s compacted: %d documents in the snapshot, %d journal bytes folded in, %.3fs",
                 self.path, count, journal_bytes, time.monotonic() - started)

    def _compact_or_carry_on(self) -> None:
        try:
            self.compact()
        except Exception:  # the journal still holds everything: durable, only longer to replay
            log.error("compacting %s failed; the journal keeps growing until it succeeds", self.path, exc_info=True)
            self.compact_after_bytes = self._size * 2

    # --- loading ---------------------------------------------------------------------------------------------------

    def _load(self) -> dict[str, int]:
        started = time.monotonic()
        documents, snapshot_seq = self._load_snapshot()
        self._seq = snapshot_seq
        replayed = self._replay(after=snapshot_seq)
        restored = {"documents": documents, "records": replayed}
        if documents or replayed:
            log.info("data folder %s restored: %d documents from the snapshot, %d journal records replayed, %.3fs",
                     self.path, documents, replayed, time.monotonic() - started)
        return restored

    def _load_snapshot(self) -> tuple[int, int]:
        path = self.path / SNAPSHOT
        if not path.exists():
            return 0, 0
        data = path.read_bytes()
        entries, end, torn = _entries(data)
        if torn or not entries or "format" not in entries[0] or not entries[-1].get("end"):
            raise CorruptSnapshot(f"{path} is damaged at byte {end} of {len(data)}: move it aside to start empty "
                                  "(its documents are then lost) or restore it from a backup")
        header, *body, footer = entries
        if header["format"] != FORMAT:
            raise CorruptSnapshot(f"{path} has format {header['format']}; this version reads format {FORMAT}")
        store = None
        count = 0
        for entry in body:
            if "x" in entry:
                document = entry["x"]
                key = document["_id"]
                store[helpers.hashdict(key) if isinstance(key, dict) else key] = document  # type: ignore[index]
                count += 1
            else:
                store = self._client[entry["d"]][entry["c"]]._store
                for index in entry["indexes"]:
                    spec = {k: v for k, v in index.items() if k != "name"}
                    spec["key"] = [tuple(pair) for pair in spec["key"]]
                    store.create_index(index["name"], spec)
        if count != footer["documents"]:
            raise CorruptSnapshot(f"{path} holds {count} documents but says {footer['documents']}")
        return count, header["seq"]

    def _replay(self, *, after: int) -> int:
        path = self.path / JOURNAL
        if not path.exists():
            return 0
        data = path.read_bytes()
        records, end, torn = _entries(data)
        if torn:
            self._set_torn_tail_aside(data, end)
        replayed = 0
        for record in records:
            if record["s"] <= after:
                continue  # already in the snapshot (a crash between writing it and emptying the journal)
            self._seq = record["s"]
            target = self._client[record["d"]][record["c"]]
            now = _EPOCH + datetime.timedelta(milliseconds=record["t"])
            with _drawing(now=now, ids=record["i"]):
                try:
                    self._perform(target, record["o"], *self._decode(record["o"], bson.decode(
                        record["b"], codec_options=ARGUMENTS)))
                except Exception as error:
                    if not record["f"]:
                        log.error("journal record %d (%s on %s.%s) failed at replay although it succeeded when "
                                  "written: %r", record["s"], record["o"], record["d"], record["c"], error)
            replayed += 1
        return replayed

    def _set_torn_tail_aside(self, data: bytes, end: int) -> None:
        journal = self.path / JOURNAL
        aside = self.path / f"{JOURNAL}.torn-{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}"
        aside.write_bytes(data[end:])
        with open(journal, "r+b") as file:
            file.truncate(end)
            os.fsync(file.fileno())
        _sync_folder(self.path)
        log.warning("journal %s ended in a torn record (a crash mid-write): %d bytes after byte %d dropped and "
                    "kept in %s; everything before them is restored", journal, len(data) - end, end, aside.name)

    def close(self) -> None:
        """Release the folder (every write is durable already)."""
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1
            if self._lock_fd >= 0:
                os.close(self._lock_fd)
                self._lock_fd = -1


def _entries(data: bytes) -> tuple[list[dict[str, Any]], int, bool]:
    """The whole frames of a file, the offset after the last whole one, and whether bytes follow it."""
    entries = []
    offset = 0
    while offset < len(data):
        if offset + _FRAME.size > len(data):
            return entries, offset, True
        length, crc = _FRAME.unpack_from(data, offset)
        payload = data[offset + _FRAME.size: offset + _FRAME.size + length]
        if length < 5 or len(payload) < length or zlib.crc32(payload) != crc:
            return entries, offset, True
        try:
            entries.append(bson.decode(payload, codec_options=STORED))
        except Exception:
            return entries, offset, True
        offset += _FRAME.size + length
    return entries, offset, False


def _frame(payload: bytes) -> bytes:
    return _FRAME.pack(len(payload), zlib.crc32(payload)) + payload


@contextlib.contextmanager
def _drawing(*, now: datetime.datetime, ids: Any) -> Iterator[list[Any]]:
    """Fix what an operation draws, so replay draws the same: new ObjectIds (upserts) and mongomock's clock."""
    drawn: list[Any] = []
    supply = iter(ids)
    make_object_id = mongomock.collection.ObjectId
    clock = mongomock.utcnow

    def object_id(*args: Any, **kwargs: Any) -> Any:
        if args or kwargs:
            return make_object_id(*args, **kwargs)
        value = next(supply, None) or make_object_id()
        drawn.append(value)
        return value

    mongomock.collection.ObjectId = object_id
    mongomock.utcnow = lambda: now
    try:
        yield drawn
    finally:
        mongomock.collection.ObjectId = make_object_id
        mongomock.utcnow = clock


def _mongo_now() -> datetime.datetime:
    """mongomock's clock (naive UTC) at the millisecond precision a journal record keeps."""
    now = mongomock.utcnow()
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


_EPOCH = datetime.datetime(1970, 1, 1)


def _millis(moment: datetime.datetime) -> int:
    """A naive UTC moment as whole milliseconds since the epoch (exact both ways)."""
    return (moment.replace(tzinfo=None) - _EPOCH) // datetime.timedelta(milliseconds=1)


def _lock_folder(path: Path) -> int:
    fd = os.open(path / LOCK, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 32).decode(errors="replace").strip() or "another process"
        os.close(fd)
        raise DataFolderInUse(f"the data folder {path} is in use by process {holder}; one process per folder")
    os.ftruncate(fd, 0)
    os.write(fd, str(os.getpid()).encode())
    return fd


def _datasync(fd: int) -> None:
    (getattr(os, "fdatasync", None) or os.fsync)(fd)


def _sync_folder(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
