"""Loading a suite: :func:`load_suite` reads the YAML, validates it against :mod:`evalkit.config.schema`,
resolves its paths and files, builds every scorer and checks every template, and hashes what moves
the numbers. Everything a run depends on is checked here, before any request: unknown keys (with the
key path and a suggestion), the dataset path, the model strings, the scorers and their arguments,
the prompt templates.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from evalkit._util.io import read_json_file, read_yaml
from evalkit._util.names import closest
from evalkit.config.prompt import check_templates
from evalkit.config.schema import Suite
from evalkit.errors import ConfigError
from evalkit.scorers.registry import build_scorer

__all__ = ["LoadedSuite", "load_suite", "resolve_path"]


class LoadedSuite(BaseModel):
    """A validated suite plus what loading resolved: its folder, file contents and hashes."""

    model_config = ConfigDict(arbitrary_types_allowed=True, frozen=True)

    suite: Suite
    path: Path
    base_dir: Path
    dataset_path: Path
    file_vars: dict[str, Any]
    suite_hash: str
    """sha256 over the canonical config and every file it includes (not the dataset)."""
    task_hash: str
    """Like suite_hash but without the models: equal task hashes mean comparable tasks."""


def _fmt_loc(loc: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in loc) or "(top level)"


def _first_error(path: Path, exc: ValidationError) -> ConfigError:
    errs = exc.errors()
    e = errs[0]
    loc = _fmt_loc(tuple(e["loc"]))
    if e["type"] == "extra_forbidden":
        msg = f"{path}: {loc}: unknown key"
        parent, key = e["loc"][:-1], str(e["loc"][-1])
        allowed = _allowed_keys(parent)
        close = closest(key, allowed, cutoff=0.6)
        if close:
            msg += f" (did you mean '{close}'?)"
    elif e["type"] == "missing":
        msg = f"{path}: {loc}: required key is missing"
    else:
        text = str(e["msg"]).removeprefix("Value error, ")
        msg = f"{path}: {loc}: {text}"
    if len(errs) > 1:
        msg += f" (and {len(errs) - 1} more problem{'s' if len(errs) > 2 else ''})"
    return ConfigError(msg)


def _allowed_keys(loc: tuple[Any, ...]) -> list[str]:
    """The keys allowed at a location of the suite, for 'did you mean'."""
    model: type[BaseModel] | None = Suite
    for part in loc:
        if model is None or isinstance(part, int):
            continue
        field = model.model_fields.get(str(part))
        if field is None:
            return []
        ann = field.annotation
        model = None
        for cand in (ann, *getattr(ann, "__args__", ())):
            inner = getattr(cand, "__args__", (cand,))
            for c in (cand, *inner):
                if isinstance(c, type) and issubclass(c, BaseModel):
                    model = c
    return list(model.model_fields) if model else []


def resolve_path(base_dir: Path, value: str, *, what: str, suite_path: Path) -> Path:
    """A path from a suite: relative to the suite's folder and not allowed to climb out of it unless absolute."""
    p = Path(os.path.expanduser(value))
    if p.is_absolute():
        return p
    resolved = (base_dir / p).resolve()
    try:
        resolved.relative_to(base_dir.resolve())
    except ValueError:
        raise ConfigError(
            f"{suite_path}: {what}: '{value}' points outside the suite's folder; use an absolute path if you mean it"
        ) from None
    return resolved


def load_suite(path: str | Path) -> LoadedSuite:
    """Read, validate and resolve a suite file. Raises :class:`ConfigError` with one clear line."""
    path = Path(path)
    if not path.exists() and not path.suffix:
        for cand in (Path("suites") / f"{path}.yaml", path.with_suffix(".yaml")):
            if cand.exists():
                path = cand
                break
    if not path.is_file():
        raise ConfigError(f"{path}: suite file not found")
    raw = read_yaml(path)
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: a suite must be a YAML mapping (name, dataset, models, scorers...)")
    try:
        suite = Suite.model_validate(raw)
    except ValidationError as exc:
        raise _first_error(path, exc) from None

    base_dir = path.parent.resolve()
    dataset_path = resolve_path(base_dir, suite.dataset.path, what="dataset.path", suite_path=path)
    if not dataset_path.is_file():
        raise ConfigError(f"{path}: dataset.path: file not found: {dataset_path}")

    file_vars: dict[str, Any] = {}
    for name, rel in suite.prompt.files.items():
        fp = resolve_path(base_dir, rel, what=f"prompt.files.{name}", suite_path=path)
        if not fp.is_file():
            raise ConfigError(f"{path}: prompt.files.{name}: file not found: {fp}")
        if fp.suffix == ".json":
            file_vars[name] = read_json_file(fp, error=ConfigError, label=f"prompt.files.{name}: ")
        else:
            file_vars[name] = fp.read_text(encoding="utf-8")

    # Scorers and templates are checked here too, so a bad one stops the run before any request.
    for i, sc in enumerate(suite.scorers):
        build_scorer(sc.name, sc.args, base_dir=base_dir, where=f"{path}: scorers.{i}")
    check_templates(suite.prompt, where=str(path))

    canonical = suite.model_dump(mode="json")
    suite_hash = _hash({"suite": canonical, "files": file_vars})
    task = {
        k: v for k, v in canonical.items() if k not in ("models", "defaults", "gate", "description", "volume")
    }
    task_hash = _hash({"task": task, "files": file_vars})
    return LoadedSuite(
        suite=suite,
        path=path,
        base_dir=base_dir,
        dataset_path=dataset_path,
        file_vars=file_vars,
        suite_hash=suite_hash,
        task_hash=task_hash,
    )


def _hash(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
