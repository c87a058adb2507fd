"""Which key a model is called with, and why a model cannot run with this environment's credentials.
Keys come from the environment only, never from a suite file."""

from __future__ import annotations

import os

from evalkit.providers.litellm import litellm_module

__all__ = ["PLACEHOLDER_KEY", "api_key_for", "missing_credentials"]

PLACEHOLDER_KEY = "sk-evalkit-no-key"
"""Sent to self-hosted OpenAI-compatible servers (llama.cpp, vLLM...) that need no key but whose SDK wants one."""


def missing_credentials(model: str, *, api_base: str | None, api_key_env: str | None) -> str | None:
    """Why ``model`` cannot run with this environment's credentials, or ``None`` if it can.

    An explicit ``api_key_env`` must be set. Otherwise LiteLLM says which variables the
    provider needs; a model with its own ``api_base`` (a self-hosted server) runs without.
    """
    if api_key_env:
        return None if os.environ.get(api_key_env) else f"set {api_key_env} to run this model"
    if api_base:
        return None
    info = litellm_module().validate_environment(model=model)
    missing = [k for k in info.get("missing_keys", []) if k]
    if info.get("keys_in_environment") or not missing:
        return None
    return f"set {' or '.join(missing)} to run this model"


def api_key_for(api_base: str | None, api_key_env: str | None) -> str | None:
    if api_key_env:
        return os.environ.get(api_key_env)
    return PLACEHOLDER_KEY if api_base else None  # None: LiteLLM reads the provider's usual variable
