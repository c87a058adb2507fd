"""The providers' own request bodies for one batch line (OpenAI's Chat Completions body, and LiteLLM's
Anthropic transformation), so a batch sends what the live path would."""

from __future__ import annotations

from typing import Any

from evalkit.providers.litellm import litellm_module

__all__ = ["batch_request_body"]


def batch_request_body(
    model: str, messages: tuple[dict[str, str], ...], params: dict[str, Any]
) -> tuple[dict[str, Any], list[str]]:
    """The provider's own request body for one batch line, and the parameters it had to drop.

    ``openai/NAME``: the Chat Completions body (``model``, ``messages``, every parameter as is).
    ``anthropic/NAME``: LiteLLM's own Anthropic transformation (``AnthropicConfig``: the system
    message moved to ``system``, ``stop`` to ``stop_sequences``, ``max_tokens`` defaulted), so a
    batch sends what the live path would; parameters Anthropic does not take (``seed``) are dropped
    and named.
    """
    provider, _, name = model.partition("/")
    if provider == "openai":
        return {"model": name, "messages": [dict(m) for m in messages], **params}, []
    if provider != "anthropic":
        raise ValueError(f"{model}: only openai/ and anthropic/ models have a batch API")
    litellm_module()
    from litellm.llms.anthropic.chat.transformation import AnthropicConfig

    config = AnthropicConfig()
    mapped = config.map_openai_params(
        non_default_params=dict(params), optional_params={}, model=name, drop_params=False
    )
    body = config.transform_request(
        model=name,
        messages=[dict(m) for m in messages],  # type: ignore[misc]
        optional_params=dict(mapped),
        litellm_params={},
        headers={},
    )
    kept = {"max_tokens": "max_tokens", "stop": "stop_sequences", "max_completion_tokens": "max_tokens"}
    dropped = [k for k in params if k not in mapped and kept.get(k) not in mapped]
    return dict(body), dropped
