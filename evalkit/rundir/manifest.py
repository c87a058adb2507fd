"""``run.json``, the run folder's manifest: the only module that reads or writes it.

The manifest is the contract between the stages that make a run (4–6) and those that read it (7–9):
what was run (suite version and hashes, the suite as run, the dataset fingerprint, options, shard,
epochs, models, scorers, gate, package versions) and how it went (status, times, counts, budget,
execution). :class:`Manifest` gives every reader typed access to those fields, with the defaults and
the checks a hand-edited or older file needs, so no other module interprets the JSON. Its layout is
documented in ``docs/run-folder.md``.

Writing is atomic (:func:`write_manifest`): a kill leaves the old manifest or the new one.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from evalkit._util.io import atomic_write_text, read_json_file
from evalkit.errors import RunDirError
from evalkit.rundir.records import DatasetRecord, ErrorPolicy, ModelEntry, ScorerEntry, SuiteRecord
from evalkit.rundir.shard import Shard

__all__ = [
    "DEFAULT_CONFIDENCE",
    "MANIFEST_FORMAT",
    "MANIFEST_NAME",
    "DatasetRecord",
    "ErrorPolicy",
    "Manifest",
    "ModelEntry",
    "ScorerEntry",
    "SuiteRecord",
    "new_run_id",
    "now_iso",
    "read_manifest",
    "write_manifest",
]

MANIFEST_NAME = "run.json"
MANIFEST_FORMAT = 1
DEFAULT_CONFIDENCE = 0.95


def new_run_id() -> str:
    """``YYYYMMDD-HHMMSS-`` + milliseconds (3 digits) + 3 random hex digits: ids sort in start order,
    also for runs started within the same second (``ls results/<suite> | tail -1`` is the latest)."""
    now = datetime.now(UTC)
    return now.strftime("%Y%m%d-%H%M%S-") + f"{now.microsecond // 1000:03d}" + secrets.token_hex(2)[:3]


def now_iso() -> str:
    """The time now, as run.json records its times (UTC, seconds)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _str(v: Any) -> str | None:
    return v if isinstance(v, str) else None


def _int(v: Any) -> int | None:
    return v if isinstance(v, int) and not isinstance(v, bool) else None


def _dict(v: Any) -> dict[str, Any]:
    return dict(v) if isinstance(v, Mapping) else {}


class Manifest:
    """A run's manifest: typed views over ``run.json`` (read with :func:`read_manifest`), and the few
    changes a run makes to it as it goes (:meth:`update`). ``where`` names the file in messages."""

    def __init__(self, data: Mapping[str, Any], where: str = MANIFEST_NAME) -> None:
        self._d: dict[str, Any] = dict(data)
        self.where = where

    # --- writing ---------------------------------------------------------------------------------

    @classmethod
    def new(
        cls,
        *,
        run_id: str,
        suite: SuiteRecord,
        suite_config: dict[str, Any],
        dataset: DatasetRecord,
        options: dict[str, Any],
        shard: Shard | None,
        epochs: int,
        models: list[dict[str, Any]],
        scorers: list[ScorerEntry],
        gate: dict[str, Any],
        versions: dict[str, str],
    ) -> Manifest:
        """The manifest of a run that starts now (status ``running``)."""
        return cls(
            {
                "format": MANIFEST_FORMAT,
                "run_id": run_id,
                "status": "running",
                "started_at": now_iso(),
                "finished_at": None,
                "suite": suite.to_dict(),
                "suite_config": suite_config,
                "dataset": dataset.to_dict(),
                "options": options,
                "shard": shard.manifest() if shard else None,
                "epochs": epochs,
                "models": models,
                "scorers": [{"key": s.key, "name": s.name, "args": s.args} for s in scorers],
                "gate": gate,
                "versions": versions,
            }
        )

    def update(self, **fields: Any) -> None:
        """Set top-level fields (``status``, ``finished_at``, ``models``, ``counts``, ``budget``, ``execution``...)."""
        self._d.update(fields)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object written to run.json (a copy)."""
        return json.loads(json.dumps(self._d, default=str))

    # --- what was run ----------------------------------------------------------------------------

    @property
    def run_id(self) -> str | None:
        return _str(self._d.get("run_id"))

    @property
    def status(self) -> str:
        """``running``, ``finished``, ``partial``, ``interrupted``, ``failed``, ``budget_exhausted`` (or ``unknown``)."""
        return _str(self._d.get("status")) or "unknown"

    @property
    def started_at(self) -> str | None:
        return _str(self._d.get("started_at"))

    @property
    def finished_at(self) -> str | None:
        return _str(self._d.get("finished_at"))

    @property
    def suite(self) -> SuiteRecord:
        s = _dict(self._d.get("suite"))
        name = _str(s.get("name")) or _str(self.suite_config.get("name")) or ""
        version = s.get("version")
        return SuiteRecord(
            name=name,
            version=None if version is None else str(version),
            path=_str(s.get("path")),
            hash=_str(s.get("hash")),
            task_hash=_str(s.get("task_hash")),
        )

    @property
    def suite_config(self) -> dict[str, Any]:
        """The suite as it was run (its validated YAML, as JSON)."""
        return _dict(self._d.get("suite_config"))

    @property
    def dataset(self) -> DatasetRecord:
        d = _dict(self._d.get("dataset"))
        return DatasetRecord(
            path=_str(d.get("path")),
            sha256=_str(d.get("sha256")),
            n_samples=_int(d.get("n_samples")),
            n_used=_int(d.get("n_used")),
            format=_str(d.get("format")),
        )

    @property
    def options(self) -> dict[str, Any]:
        """``options``: ``models`` (the ``--models`` asked for), ``limit``, ``batch``."""
        return _dict(self._d.get("options"))

    @property
    def limit(self) -> int | None:
        return _int(self.options.get("limit"))

    @property
    def shard(self) -> Shard | None:
        """The shard this run is (None: unsharded); :class:`~evalkit.errors.ConfigError` if malformed."""
        return Shard.from_manifest(self._d.get("shard"), self.where)

    @property
    def shard_record(self) -> Any:
        """``shard`` as recorded (for a merge that compares it)."""
        return self._d.get("shard")

    @property
    def epochs(self) -> int | None:
        """Epochs declared, or None when the manifest does not say (an older or hand-made folder)."""
        e = _int(self._d.get("epochs"))
        return e if e is not None and e >= 1 else None

    @property
    def models(self) -> list[ModelEntry]:
        out = []
        for m in self._d.get("models") or []:
            if not isinstance(m, Mapping):
                continue
            out.append(
                ModelEntry(
                    name=str(m.get("name")),
                    model=_str(m.get("model")),
                    group=_str(m.get("group")),
                    api_base=m.get("api_base"),
                    params=_dict(m.get("params")),
                    status=_str(m.get("status")),
                    status_reason=_str(m.get("status_reason")),
                    price=_dict(m.get("price")) or None,
                    price_map_recorded="price_map" in m,
                    price_map=_dict(m.get("price_map")) or None,
                    replay=_dict(m.get("replay")) or None,
                    counts=_dict(m.get("counts")),
                    concurrency=m.get("concurrency"),
                    raw=m,
                )
            )
        return out

    def model(self, name: str) -> ModelEntry | None:
        return next((m for m in self.models if m.name == name), None)

    @property
    def model_configs(self) -> dict[str, dict[str, Any]]:
        """Model name -> its entry in the suite as run (``suite_config.models``)."""
        return {
            str(m.get("name")): dict(m)
            for m in self.suite_config.get("models") or []
            if isinstance(m, Mapping)
        }

    @property
    def scorers(self) -> list[ScorerEntry]:
        """The scorers, once per key, in the suite's order."""
        out: list[ScorerEntry] = []
        seen: set[str] = set()
        for s in self._d.get("scorers") or []:
            if not isinstance(s, Mapping):
                continue
            key = s.get("key") or s.get("id") or s.get("name")
            if not isinstance(key, str) or key in seen:
                continue
            seen.add(key)
            name = s.get("name") if isinstance(s.get("name"), str) else key
            out.append(ScorerEntry(key, str(name), _dict(s.get("args"))))
        return out

    @property
    def scorer_keys(self) -> list[str]:
        return [s.key for s in self.scorers]

    @property
    def gate(self) -> dict[str, Any]:
        """The gate as recorded (``gate``, else ``suite_config.gate``); validated by :mod:`evalkit.analysis.gate`."""
        raw = self._d.get("gate")
        if raw is None:
            raw = self.suite_config.get("gate")
        if raw is None:
            return {}
        if not isinstance(raw, Mapping):
            raise RunDirError(f"{self.where}: gate must be an object")
        return dict(raw)

    @property
    def gate_scorer(self) -> str | None:
        """``gate.scorer``, else the first scorer."""
        for gate in (self._d.get("gate"), self.suite_config.get("gate")):
            if isinstance(gate, Mapping) and isinstance(gate.get("scorer"), str):
                return str(gate["scorer"])
        keys = self.scorer_keys
        return keys[0] if keys else None

    @property
    def confidence(self) -> float:
        """``gate.confidence`` (default 0.95): the level of every interval of the report."""
        for gate in (self._d.get("gate"), self.suite_config.get("gate")):
            if isinstance(gate, Mapping) and isinstance(gate.get("confidence"), int | float):
                value = float(gate["confidence"])
                if not 0.5 < value < 1.0:
                    raise RunDirError(f"{self.where}: gate.confidence is {value}; expected between 0.5 and 1")
                return value
        return DEFAULT_CONFIDENCE

    @property
    def error_policy(self) -> ErrorPolicy:
        """``suite_config.errors``, default ``count_as_wrong``; :class:`RunDirError` if unknown."""
        raw = self.suite_config.get("errors")
        if raw is None:
            return ErrorPolicy.COUNT_AS_WRONG
        try:
            return ErrorPolicy(raw)
        except ValueError:
            allowed = ", ".join(p.value for p in ErrorPolicy)
            raise RunDirError(
                f"{self.where}: suite_config.errors is {raw!r}; expected one of {allowed}"
            ) from None

    @property
    def volume(self) -> dict[str, Any] | None:
        return _dict(self.suite_config.get("volume")) or None

    @property
    def tag_fields(self) -> list[str] | None:
        """``suite_config.dataset.tags``: the fields whose values are slice tags (``None`` when not recorded)."""
        raw = _dict(self.suite_config.get("dataset")).get("tags")
        if not isinstance(raw, list):
            return None
        return [str(t) for t in raw if isinstance(t, str)]

    @property
    def versions(self) -> dict[str, Any]:
        return _dict(self._d.get("versions"))

    @property
    def counts(self) -> dict[str, Any]:
        return _dict(self._d.get("counts"))

    @property
    def budget(self) -> dict[str, Any]:
        return _dict(self._d.get("budget"))

    @property
    def execution(self) -> dict[str, Any]:
        return _dict(self._d.get("execution"))


def read_manifest(run_dir: str | Path) -> Manifest:
    """Read and minimally validate ``run_dir/run.json``; :class:`RunDirError` with one line otherwise."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RunDirError(f"{run_dir}: not a run folder (it does not exist or is not a directory)")
    path = run_dir / MANIFEST_NAME
    if not path.is_file():
        raise RunDirError(f"{path}: missing; is {run_dir} a folder written by `evalkit run`?")
    data = read_json_file(path, error=RunDirError)
    if not isinstance(data, dict):
        raise RunDirError(f"{path}: must be a JSON object")
    fmt = data.get("format", MANIFEST_FORMAT)
    if fmt != MANIFEST_FORMAT:
        raise RunDirError(f"{path}: format {fmt!r} is not one this evalkit reads ({MANIFEST_FORMAT})")
    models = data.get("models", [])
    if not isinstance(models, list) or not all(
        isinstance(m, dict) and isinstance(m.get("name"), str) for m in models
    ):
        raise RunDirError(f"{path}: 'models' must be a list of objects, each with a 'name'")
    scorers = data.get("scorers", [])
    if not isinstance(scorers, list) or not all(isinstance(s, dict) for s in scorers):
        raise RunDirError(f"{path}: 'scorers' must be a list of objects")
    return Manifest(data, where=str(path))


def write_manifest(run_dir: Path, manifest: Manifest) -> None:
    """Atomically replace run.json (a kill never leaves half a manifest)."""
    text = json.dumps(manifest._d, indent=2, ensure_ascii=False, default=str) + "\n"
    atomic_write_text(run_dir / MANIFEST_NAME, text, errors="replace")
