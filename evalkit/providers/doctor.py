"""Preflight: can every model of a suite be reached, before the first request is paid for?

``evalkit doctor SUITE`` prints one line per model; ``evalkit run`` runs the same checks first
and stops (exit 3) when an endpoint it was given cannot be reached, naming the endpoint, instead
of discovering it one timeout per sample later. Checks are cheap and send no completion:

* a model with its own ``api_base``: a TCP connection to its host and port; with several replicas
  (a list of bases), to each of them. One replica down of several is a warning (the run sends to the
  others, :mod:`evalkit.providers.replicas`); all of them down stops the run like a single unreachable base;
* a hosted model: its credentials are present (LiteLLM's ``validate_environment``);
* an embedded ``local/`` model: its runtime and weights are installed.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from evalkit.config.schema import ModelConfig

CONNECT_TIMEOUT_S = 3.0


@dataclass(frozen=True)
class Check:
    model: str
    ok: bool
    detail: str


def check_endpoint(api_base: str, *, timeout_s: float = CONNECT_TIMEOUT_S) -> str | None:
    """None when ``api_base`` accepts a TCP connection, else why not (one line)."""
    parts = urlsplit(api_base)
    host = parts.hostname
    if not host or parts.scheme not in ("http", "https"):
        return f"'{api_base}' is not an http(s) URL"
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return None
    except TimeoutError:
        return f"no answer from {host}:{port} within {timeout_s:.0f}s"
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        return f"cannot connect to {host}:{port} ({reason.lower()})"


def check_model(m: ModelConfig) -> Check:
    from evalkit.config.catalog import LOCAL_PROVIDER

    if m.replay is not None:  # answers come from a recording: no endpoint, no key (the run checks the file)
        return Check(m.name, True, f"replayed from {m.replay}: nothing to reach")
    if m.model.startswith(LOCAL_PROVIDER + "/"):
        from evalkit.config.catalog import get_local_spec
        from evalkit.errors import InfrastructureError
        from evalkit.providers.local_files import resolve_model_path

        try:
            path = resolve_model_path(get_local_spec(m.model.split("/", 1)[1]))
        except InfrastructureError as exc:
            return Check(m.name, False, exc.message)
        return Check(m.name, True, f"embedded model installed ({path.name})")
    if isinstance(m.api_base, list) and len(m.api_base) > 1:
        down = _down(m.api_base)
        up = len(m.api_base) - len(down)
        detail = f"{up} of {len(m.api_base)} replicas accept connections" + "".join(
            f"; {base}: {problem}" for base, problem in down
        )
        return Check(m.name, up > 0, detail)
    if m.api_base:
        base = m.api_base if isinstance(m.api_base, str) else m.api_base[0]
        problem = check_endpoint(base)
        return Check(m.name, problem is None, problem or f"{base} accepts connections")
    from evalkit.providers.credentials import missing_credentials

    reason = missing_credentials(m.model, api_base=None, api_key_env=m.api_key_env)
    return Check(m.name, reason is None, reason or "credentials present")


def _down(bases: list[str]) -> list[tuple[str, str]]:
    """(base, why) of each base that does not accept a connection."""
    down = []
    for base in bases:
        problem = check_endpoint(base)
        if problem:
            down.append((base, problem))
    return down


def check_endpoints(models: list[ModelConfig]) -> tuple[list[Check], list[Check]]:
    """(unreachable, degraded): the models none of whose ``api_base``s can be reached (what stops
    ``evalkit run`` early), and those with some replicas down but at least one up (a warning)."""
    from evalkit.config.catalog import LOCAL_PROVIDER

    failed, degraded = [], []
    for m in models:
        if not m.api_base or m.model.startswith(LOCAL_PROVIDER + "/"):
            continue
        bases = [m.api_base] if isinstance(m.api_base, str) else m.api_base
        down = _down(bases)
        detail = "; ".join(f"{base}: {problem}" for base, problem in down)
        if len(down) == len(bases):
            failed.append(Check(m.name, False, detail))
        elif down:
            degraded.append(
                Check(
                    m.name,
                    True,
                    f"{len(down)} of {len(bases)} replicas down, sending to the others: {detail}",
                )
            )
    return failed, degraded


def unreachable_endpoints(models: list[ModelConfig]) -> list[Check]:
    """The models none of whose ``api_base``s can be reached (what stops ``evalkit run`` early)."""
    return check_endpoints(models)[0]
