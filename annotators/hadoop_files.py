"""Hadoop FileSystem access from the driver, through the JVM: the one way the library and the
job touch paths that may not be on local disk (HDFS, object stores, DBFS, viewfs)."""

from __future__ import annotations

import ctypes
import errno
import os
import uuid
from pathlib import Path
from typing import Any

from pyspark.sql import SparkSession

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def exchange_local_folders(first: Path, second: Path) -> bool:
    """Swap two local folders in one atomic step (Linux ``renameat2`` with RENAME_EXCHANGE).

    False where the kernel, the C library or the filesystem cannot; the caller then renames.
    """
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_uint,
    ]
    renameat2.restype = ctypes.c_int
    paths = os.fsencode(first), os.fsencode(second)
    if renameat2(_AT_FDCWD, paths[0], _AT_FDCWD, paths[1], _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), f"{first} <-> {second}")


def write_local_file(path: Path, text: str, exclusive: bool = False) -> bool:
    """Write a small local file whole: drafted beside, then linked (``exclusive``: fails if the
    name is taken) or renamed into place, so a reader sees the old text or the new, never part.

    Hadoop's local ``create`` checks for the file and then creates it, two steps that two
    writers can both pass; a hard link is one step. It also leaves a ``.<name>.crc`` checksum
    that an outside change to the file makes unreadable: none is written here, and a stale
    one is removed. False only when ``exclusive`` and the file exists.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_name(f"{path.name}.tmp-{uuid.uuid4().hex[:12]}")
    draft.write_bytes(text.encode("utf-8"))
    try:
        if exclusive:
            try:
                os.link(draft, path)
            except FileExistsError:
                return False
            except OSError:  # a filesystem without hard links: create exclusively, then write
                try:
                    handle = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
                except FileExistsError:
                    return False
                with os.fdopen(handle, "wb") as stream:
                    stream.write(text.encode("utf-8"))
        else:
            os.replace(draft, path)
        path.with_name(f".{path.name}.crc").unlink(missing_ok=True)
        return True
    finally:
        draft.unlink(missing_ok=True)


class HadoopFiles:
    """The Hadoop FileSystem of a path (local disk or any cluster store), through the JVM."""

    def __init__(self, spark: SparkSession, path: str) -> None:
        jvm = spark.sparkContext._jvm
        self._path_class = jvm.org.apache.hadoop.fs.Path
        self.fs = self._path_class(path).getFileSystem(
            spark.sparkContext._jsc.hadoopConfiguration()
        )

    def path(self, path: str) -> Any:
        return self._path_class(path)

    def qualified(self, path: str) -> str:
        """The path with its scheme and authority, as the store names it."""
        return str(self.fs.makeQualified(self.path(path)).toString())

    def scheme(self) -> str:
        return str(self.fs.getScheme())

    def exists(self, path: str) -> bool:
        return bool(self.fs.exists(self.path(path)))

    def matches(self, pattern: str) -> bool:
        """Whether a path or glob names anything."""
        found = self.fs.globStatus(self.path(pattern))
        return found is not None and len(found) > 0

    def rename(self, source: str, target: str) -> bool:
        return bool(self.fs.rename(self.path(source), self.path(target)))

    def delete(self, path: str) -> None:
        self.fs.delete(self.path(path), True)

    def mkdirs(self, path: str) -> None:
        self.fs.mkdirs(self.path(path))

    def names(self, folder: str) -> list[str]:
        """The entries directly inside a folder (none if it does not exist)."""
        if not self.exists(folder):
            return []
        return [str(s.getPath().getName()) for s in self.fs.listStatus(self.path(folder))]

    def files(self, folder: str) -> list[str]:
        """Every file under a folder, as paths relative to it."""
        if not self.exists(folder):
            return []
        root = self.qualified(folder).rstrip("/") + "/"
        found, listing = [], self.fs.listFiles(self.path(folder), True)
        while listing.hasNext():
            full = str(listing.next().getPath().toString())
            found.append(full[len(root) :] if full.startswith(root) else full)
        return sorted(found)

    def modified_ms(self, path: str) -> int:
        return int(self.fs.getFileStatus(self.path(path)).getModificationTime())

    def is_file(self, path: str) -> bool:
        """Whether the path is a file (not a folder, and not absent)."""
        return self._kind(path) == "file"

    def is_folder(self, path: str) -> bool:
        """Whether the path is a folder (not a file, and not absent)."""
        return self._kind(path) == "folder"

    def _kind(self, path: str) -> str | None:
        try:
            status = self.fs.getFileStatus(self.path(path))
        except Exception as exc:  # Py4J: FileNotFoundException
            if "FileNotFound" in str(exc):
                return None
            raise
        return "folder" if status.isDirectory() else "file"

    def write(self, path: str, text: str, exclusive: bool = False) -> bool:
        """Write a small file; with ``exclusive``, only if it does not exist (False if it did).

        On local disk the file appears whole and ``exclusive`` is exclusive among processes
        (``write_local_file``); on HDFS the name node makes the create exclusive.
        """
        local = self.local_path(path)
        if local is not None:
            return write_local_file(local, text, exclusive)
        try:
            stream = self.fs.create(self.path(path), not exclusive)
        except Exception as exc:  # Py4J: FileAlreadyExistsException
            if exclusive and "AlreadyExists" in str(exc):
                return False
            raise
        try:
            stream.write(bytearray(text.encode("utf-8")))
        finally:
            stream.close()
        return True

    def read(self, path: str) -> str | None:
        """A small file's text, or None if it is not there (or is a folder)."""
        local = self.local_path(path)
        if local is not None:  # as written: no checksum file to disagree with it
            try:
                return local.read_bytes().decode("utf-8", "replace")
            except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
                return None
        try:
            stream = self.fs.open(self.path(path))
        except Exception as exc:  # Py4J: FileNotFoundException
            if "FileNotFound" in str(exc):
                return None
            raise
        try:
            return bytes(stream.readAllBytes()).decode("utf-8", "replace")
        finally:
            stream.close()

    def local_path(self, path: str) -> Path | None:
        """The path on this machine's disk, if the path's store is the local disk."""
        if self.scheme() != "file":
            return None
        return Path(str(self.fs.pathToFile(self.fs.makeQualified(self.path(path))).getPath()))

    def copy_from_local(self, source: Path, target: str) -> None:
        """Copy a local file to exactly ``target`` (a file path, not a folder to copy into)."""
        self.fs.copyFromLocalFile(False, True, self.path(source.as_uri()), self.path(target))

    def copy_to_local(self, source: str, target: Path) -> None:
        """Copy a file or folder of the store to exactly ``target`` on local disk."""
        self.fs.copyToLocalFile(False, self.path(source), self.path(target.as_uri()), True)

    def exchange(self, first: str, second: str) -> bool:
        """Swap two folders atomically where the store can (local disk on Linux)."""
        local = self.local_path(first), self.local_path(second)
        if local[0] is None or local[1] is None:
            return False
        return exchange_local_folders(local[0], local[1])
