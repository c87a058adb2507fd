"""Where the embedded models' files are: the cache folder, the installed packages, and the GGUF of a
spec (assembled once into the cache when its package ships it in chunks). Shared by the runner's side
(:mod:`evalkit.providers.local`) and the server process (:mod:`evalkit.providers.local_serve`)."""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import os
import threading
from pathlib import Path

from evalkit.config.catalog import LocalModelSpec
from evalkit.errors import InfrastructureError

__all__ = ["INSTALL_HINT", "cache_dir", "check_installed", "distribution_version", "resolve_model_path"]

INSTALL_HINT = (
    "run `make eval` (it installs it) or `pip install -r requirements/local.lock --require-hashes --no-deps`"
)


def cache_dir() -> Path:
    """Where assembled models and server logs live."""
    if env := os.environ.get("EVALKIT_CACHE_DIR"):
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "evalkit"


def check_installed(module: str, what: str) -> None:
    try:
        found = importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        raise InfrastructureError(f"{what} is not installed: {INSTALL_HINT}")


def resolve_model_path(spec: LocalModelSpec) -> Path:
    """The GGUF of ``spec`` (assembled into the cache on first use); :class:`InfrastructureError` if missing."""
    what = f"the model package {spec.distribution} (for local/{spec.alias})"
    check_installed(spec.package, what)
    if spec.assemble:
        target = cache_dir() / "models" / spec.filename
        if not target.is_file():  # written atomically below, so an existing file is a complete, checked one
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}.tmp")
            try:
                importlib.import_module(spec.package).assemble(tmp, overwrite=True)
                os.replace(tmp, target)
            except Exception as e:
                raise InfrastructureError(f"could not assemble {target} from {what}: {e}") from e
            finally:
                tmp.unlink(missing_ok=True)
        return target
    found = importlib.util.find_spec(spec.package)
    locations = list(found.submodule_search_locations or []) if found else []
    for location in locations:
        if (path := Path(location) / spec.filename).is_file():
            return path
    raise InfrastructureError(f"{spec.filename} is missing from {what}; reinstall it: {INSTALL_HINT}")


def distribution_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None
