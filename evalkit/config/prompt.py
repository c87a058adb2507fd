"""Rendering samples into chat messages with Jinja2.

Templates run in Jinja2's sandbox with ``StrictUndefined``: a variable the sample does
not have is an error naming the template, the variable and the sample's line, raised
before the first request. The expected answer (and any ``dataset.hidden`` field) is never
in the template's context, and neither is ``should_refuse``. Keep the fixed part of the prompt first: servers with a
prompt cache (llama.cpp, vLLM, OpenAI, Anthropic) reuse the shared prefix.
"""

from __future__ import annotations

from typing import Any

import jinja2
import jinja2.meta
from jinja2.sandbox import SandboxedEnvironment

from evalkit.config.schema import PromptConfig
from evalkit.errors import ConfigError
from evalkit.types import Sample

ALWAYS_HIDDEN = frozenset({"should_refuse"})
"""Answer-bearing fields no template sees, besides the expected field (which is never in ``fields``)."""

_ENV = SandboxedEnvironment(undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=False)


def _compile(source: str, name: str, where: str) -> jinja2.Template:
    try:
        return _ENV.from_string(source)
    except jinja2.TemplateSyntaxError as exc:
        raise ConfigError(
            f"{where}: prompt.{name}: template error on line {exc.lineno}: {exc.message}"
        ) from None


def _constant_reads(source: str, constants: dict[str, Any]) -> frozenset[str] | None:
    """The names a template reads, when every one is a constant (None otherwise)."""
    names = frozenset(jinja2.meta.find_undeclared_variables(_ENV.parse(source)))
    return names if names <= constants.keys() and not names & {"input", "id"} else None


def check_templates(prompt: PromptConfig, *, where: str) -> None:
    """Compile the templates (syntax only; variables are checked against real samples by :class:`Renderer`)."""
    if prompt.system is not None:
        _compile(prompt.system, "system", where)
    _compile(prompt.user, "user", where)


class Renderer:
    """Turns a sample into the messages sent to every model."""

    def __init__(
        self, prompt: PromptConfig, *, file_vars: dict[str, Any], hidden: list[str], where: str
    ) -> None:
        self._where = where
        self._system = _compile(prompt.system, "system", where) if prompt.system is not None else None
        self._user = _compile(prompt.user, "user", where)
        self._constants = {**file_vars, **prompt.vars}
        self._hidden = ALWAYS_HIDDEN | set(hidden)
        # A template that reads only constants (a fixed system prompt, typically) renders to the
        # same text for every sample: render it once. A sample with a field of one of those names
        # (which would shadow the constant) is rendered in full.
        self._reads = {
            name: _constant_reads(source, self._constants)
            for name, source in (("system", prompt.system), ("user", prompt.user))
            if source is not None
        }
        self._rendered: dict[str, str] = {}

    def context(self, sample: Sample) -> dict[str, Any]:
        """What a template may see: constants, the sample's non-hidden fields, ``input`` and ``id``."""
        visible = {k: v for k, v in sample.fields.items() if k not in self._hidden}
        return {**self._constants, **visible, "input": sample.input, "id": sample.id}

    def render(self, sample: Sample) -> tuple[dict[str, str], ...]:
        ctx: dict[str, Any] | None = None
        messages: list[dict[str, str]] = []
        for name, tpl in (("system", self._system), ("user", self._user)):
            if tpl is None:
                continue
            reads = self._reads.get(name)
            text = self._rendered.get(name) if reads is not None and reads.isdisjoint(sample.fields) else None
            if text is None:
                ctx = ctx if ctx is not None else self.context(sample)
                text = self._render(tpl, name, ctx, sample)
                if reads is not None and reads.isdisjoint(sample.fields):
                    self._rendered[name] = text
            messages.append({"role": name, "content": text})
        return tuple(messages)

    def _render(self, tpl: jinja2.Template, name: str, ctx: dict[str, Any], sample: Sample) -> str:
        try:
            return tpl.render(ctx)
        except jinja2.UndefinedError as exc:
            raise ConfigError(
                f"{self._where}: prompt.{name}: {exc.message} (sample '{sample.id}', line {sample.line}); "
                "the expected answer is never visible to templates"
            ) from None
        except jinja2.TemplateError as exc:
            raise ConfigError(f"{self._where}: prompt.{name}: {exc} (sample '{sample.id}')") from None
