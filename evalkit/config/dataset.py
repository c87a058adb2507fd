"""Reading and validating the user's examples.

JSONL is read directly (so every error names ``file:line``); CSV, Parquet and JSON go
through ``datasets``. Every row becomes a :class:`~evalkit.types.Sample`; ids must be
present and unique. The file's sha256 is the dataset fingerprint recorded in the manifest.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evalkit._util.io import iter_jsonl
from evalkit.config.schema import DatasetConfig
from evalkit.errors import DataError
from evalkit.types import Sample

MIN_RECOMMENDED = 200
"""Below this many examples the gap interval is wide: a warning, not an error."""
MAX_LINE_BYTES = 8 * 1024 * 1024
"""A JSONL line longer than this is refused (an example is not 8 MB of text)."""


@dataclass(frozen=True)
class Dataset:
    samples: list[Sample]
    path: Path
    format: str
    sha256: str
    warnings: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.samples)


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def detect_format(path: Path, declared: str | None) -> str:
    if declared:
        return declared
    suffix = path.suffix.lower()
    fmt = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".parquet": "parquet", ".json": "json"}.get(
        suffix
    )
    if fmt is None:
        raise DataError(
            f"{path}: cannot tell the format from '{suffix}'; set dataset.format (jsonl, csv, parquet, json)"
        )
    return fmt


def load_dataset(path: Path, config: DatasetConfig) -> Dataset:
    """Read and validate every row. Raises :class:`DataError` naming file, line and field."""
    if not path.is_file():
        raise DataError(f"{path}: dataset file not found")
    fmt = detect_format(path, config.format)
    rows = _jsonl_rows(path) if fmt == "jsonl" else _hf_rows(path, fmt)
    samples: list[Sample] = []
    seen: dict[str, int] = {}
    for line, row in rows:
        sample = _to_sample(path, line, row, config)
        if sample.id in seen:
            raise DataError(
                f"{path}:{line}: duplicate id '{sample.id}' (first seen on line {seen[sample.id]})"
            )
        seen[sample.id] = line
        samples.append(sample)
    if not samples:
        raise DataError(f"{path}: the dataset is empty (no rows)")
    warnings = []
    if len(samples) < MIN_RECOMMENDED:
        warnings.append(
            f"{path}: only {len(samples)} examples; with fewer than {MIN_RECOMMENDED} the closed-vs-open gap "
            "estimate will be wide"
        )
    return Dataset(samples=samples, path=path, format=fmt, sha256=file_sha256(path), warnings=warnings)


def _jsonl_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    return iter_jsonl(path, error=DataError, max_line_bytes=MAX_LINE_BYTES)


def _hf_rows(path: Path, fmt: str) -> Iterable[tuple[int, dict[str, Any]]]:
    import os

    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        import datasets
    except ImportError as exc:  # pragma: no cover - datasets is a core dependency
        raise DataError(f"{path}: reading {fmt} needs the 'datasets' package ({exc})") from None
    builder = {
        "csv": datasets.Dataset.from_csv,
        "parquet": datasets.Dataset.from_parquet,
        "json": datasets.Dataset.from_json,
    }[fmt]
    try:
        ds = builder(str(path))
    except Exception as exc:  # datasets raises many kinds; the user needs one line
        raise DataError(
            f"{path}: could not read as {fmt}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
        ) from None
    first = 2 if fmt == "csv" else 1  # CSV: line 1 is the header
    return ((first + i, dict(row)) for i, row in enumerate(ds))


def _to_sample(path: Path, line: int, row: dict[str, Any], config: DatasetConfig) -> Sample:
    fm = config.fields
    where = f"{path}:{line}"
    if fm.id not in row or row[fm.id] is None or row[fm.id] == "":
        raise DataError(f"{where}: missing id field '{fm.id}'")
    raw_id = row[fm.id]
    if not isinstance(raw_id, str | int) or isinstance(raw_id, bool):
        raise DataError(
            f"{where}: field '{fm.id}' must be a string or an integer, got {type(raw_id).__name__}"
        )
    if fm.input not in row:
        raise DataError(f"{where}: missing input field '{fm.input}'")
    inp = row[fm.input]
    if not isinstance(inp, str):
        raise DataError(f"{where}: field '{fm.input}' must be a string, got {type(inp).__name__}")
    if fm.expected is not None and fm.expected not in row:
        raise DataError(f"{where}: missing expected field '{fm.expected}'")
    for req in config.required:
        if req not in row:
            raise DataError(f"{where}: missing required field '{req}'")
    for name, want in {"should_refuse": "boolean", **config.types}.items():
        if name in row and not _is_type(row[name], want):
            raise DataError(f"{where}: field '{name}' must be {want}, got {_json_type(row[name])}")
    tags: dict[str, str] = {}
    for tag in config.tags:
        if tag not in row:
            raise DataError(f"{where}: missing tag field '{tag}'")
        tags[tag] = str(row[tag])
    skip = {fm.id, fm.input, fm.expected}
    fields = {k: v for k, v in row.items() if k not in skip}
    return Sample(
        id=str(raw_id),
        input=inp,
        expected=row.get(fm.expected) if fm.expected else None,
        fields=fields,
        tags=tags,
        line=line,
    )


_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "number": (int, float),
    "integer": (int,),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list,),
}


def _is_type(value: Any, want: str) -> bool:
    if isinstance(value, bool) and want in ("number", "integer"):
        return False
    return isinstance(value, _JSON_TYPES[want])


def _json_type(value: Any) -> str:
    for name in ("boolean", "integer", "number", "string", "object", "array"):
        if _is_type(value, name):
            return name
    return "null" if value is None else type(value).__name__
