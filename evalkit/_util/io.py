"""Reading the user's files with one wording of their errors, and writing files atomically.

Every reader names ``file:line`` (and the column or byte) of the first problem and raises the
:class:`~evalkit.errors.EvalkitError` subclass the caller asks for (``DataError`` for data,
``ConfigError`` for suite files, ``RunDirError`` for run folders), so a bad row is one clear line
and exit 2, never a traceback. Lines are numbered from 1; a UTF-8 byte-order mark is skipped; blank
lines are not rows.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import yaml

from evalkit.errors import ConfigError, DataError

__all__ = [
    "atomic_open",
    "atomic_write_bytes",
    "atomic_write_text",
    "iter_jsonl",
    "read_json_file",
    "read_yaml",
]


def iter_jsonl(
    path: Path,
    *,
    error: Callable[[str], Exception] = DataError,
    label: str = "",
    objects: bool = True,
    max_line_bytes: int | None = None,
) -> Iterator[tuple[int, Any]]:
    """``(line number, value)`` for each non-blank line of a JSONL file.

    ``label`` is put before each problem (e.g. ``"replay: "``); ``objects`` requires every line to
    be a JSON object; ``max_line_bytes`` bounds one line (a runaway file is an error, not a hang).
    """
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        raise error(f"{path}: {label}file not found") from None
    except OSError as exc:
        raise error(f"{path}: {label}cannot read: {exc.strerror}") from None
    with handle:
        for lineno, raw in enumerate(handle, start=1):
            where = f"{path}:{lineno}: {label}"
            if max_line_bytes is not None and len(raw) > max_line_bytes:
                raise error(
                    f"{where}line is {len(raw) / 1e6:.1f} MB; the limit is {max_line_bytes / 1e6:.0f} MB"
                )
            if lineno == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise error(f"{where}not UTF-8 text (byte {exc.start + 1} of the line)") from None
            if not text.strip():
                continue
            try:
                value = json.loads(text)
            except json.JSONDecodeError as exc:
                raise error(f"{where}invalid JSON at column {exc.colno}: {exc.msg}") from None
            if objects and not isinstance(value, dict):
                raise error(f"{where}each line must be a JSON object, got {type(value).__name__}")
            yield lineno, value


def read_json_file(path: Path, *, error: Callable[[str], Exception] = ConfigError, label: str = "") -> Any:
    """A JSON file's value; ``error`` naming ``file:line`` when it cannot be read or parsed."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(f"{path}: {label}file not found") from None
    except UnicodeDecodeError as exc:
        raise error(f"{path}: {label}not UTF-8 text (byte {exc.start + 1})") from None
    except OSError as exc:
        raise error(f"{path}: {label}cannot read: {exc.strerror}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise error(f"{path}:{exc.lineno}: {label}not valid JSON: {exc.msg}") from None


def read_yaml(path: Path) -> Any:
    """A YAML file's content; :class:`ConfigError` naming the file (and the line) when it is not
    UTF-8 text or not YAML. Shared by the suite and the user price file."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start + 1})") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError(f"{path}{where}: not valid YAML: {problem}") from None


@contextmanager
def atomic_open(
    path: Path, *, newline: str | None = "\n", errors: str = "strict", fsync: bool = False
) -> Iterator[IO[str]]:
    """A text file to write that replaces ``path`` in one step when the block ends without an error:
    a kill leaves the old file or the new one, never half of one.

    It is written beside ``path`` under a temporary name, flushed (and fsynced with ``fsync``), then
    renamed over it (``os.replace`` is atomic on one file system); on an error it is removed.
    ``errors="replace"`` for text that may hold lone surrogates (model output).
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("w", encoding="utf-8", newline=newline, errors=errors) as f:
            yield f
            f.flush()
            if fsync:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str, *, errors: str = "strict", fsync: bool = False) -> Path:
    """Replace ``path`` with ``text`` atomically (see :func:`atomic_open`); returns ``path``."""
    with atomic_open(path, errors=errors, fsync=fsync) as f:
        f.write(text)
    return path


def atomic_write_bytes(path: Path, data: bytes) -> Path:
    """Replace ``path`` with ``data`` atomically; returns ``path``."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path
