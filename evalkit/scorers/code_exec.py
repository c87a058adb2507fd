"""``code_exec``: run the model's code against the sample's tests in a sandbox.

The code is read from the answer (:mod:`~evalkit.scorers.code_extract`: a fenced block, else the
whole answer) and run with the row's tests, in the strongest sandbox available
(:mod:`evalkit.sandbox`), one fresh sandbox per sample, ``max_parallel`` at a time. The verdict
classes are in :mod:`~evalkit.scorers.code_verdict`.

Two row styles (``style: auto`` picks by the fields present):

* **MBPP** (``test_list``): ``test_setup_code``, then the code, then each assert of ``test_list``
  as its own unit, so a verdict says which tests failed and all of them run;
* **HumanEval** (``test`` + ``entry_point``): the model continues the prompt (the row's ``input``):
  ``prompt + completion``, then ``test``, then ``check(entry_point)``. An answer that repeats the
  whole function (it defines ``entry_point``) replaces the prompt's function: the prompt's lines
  before ``def entry_point(`` (its imports and helpers) are kept in front of it.

The scoring function is async (``await fn(text, sample)``); ``build_scorer`` wraps it for sync
callers. ``fn.sandbox`` is the :class:`~evalkit.sandbox.Sandbox` it uses (its ``name`` and
``description`` are for the report's "sandbox used" line); every verdict's ``meta.sandbox`` names it too.

``Score.meta``: ``sandbox``, ``code_from`` (``fence``/``fence_unterminated``/``whole_answer``),
``duration_s``; MBPP rows ``tests_total``/``tests_passed``; failures ``error_type``, ``line``,
``where``; timeouts ``timeout`` (``wall``/``cpu``); sandbox errors ``infrastructure: true``.
"""

from __future__ import annotations

import re
from typing import Any

from evalkit.sandbox import DEFAULT_IMAGE, KINDS, Limits, Sandbox, SandboxUnavailable, Unit, open_sandbox
from evalkit.scorers.code_extract import ExtractedCode, defines, extract_code
from evalkit.scorers.code_verdict import CLASSES, verdict
from evalkit.scorers.metrics.code import CodeExecAccumulator
from evalkit.scorers.registry import scorer
from evalkit.scorers.text import clip
from evalkit.types import Sample, Score

__all__ = ["CLASSES", "STYLES", "CodeExec", "build_units", "code_exec"]

STYLES = ("auto", "mbpp", "humaneval")
_ANSWER_LIMIT = 4000


def _name(value: Any, arg: str) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{arg} must be a field name (got {value!r})")
    return value


def _prompt_prefix(prompt: str, entry_point: str) -> str:
    """The prompt's lines before ``def entry_point(`` (imports, helper functions); else its imports."""
    m = re.search(rf"^[ \t]*(?:async[ \t]+)?def[ \t]+{re.escape(entry_point)}[ \t]*\(", prompt, re.MULTILINE)
    if m is not None:
        return prompt[: m.start()]
    imports = [line for line in prompt.splitlines() if re.match(r"^(?:import|from)\s", line)]
    return "\n".join(imports) + ("\n" if imports else "")


class CodeExec:
    """The ``code_exec`` scoring function (async); see the module docstring."""

    def __init__(
        self,
        sandbox: Sandbox,
        *,
        style: str,
        tests_field: str,
        setup_field: str,
        test_field: str,
        entry_point_field: str,
        prompt_field: str | None,
    ) -> None:
        self.sandbox = sandbox
        self.style = style
        self.tests_field, self.setup_field = tests_field, setup_field
        self.test_field, self.entry_point_field, self.prompt_field = (
            test_field,
            entry_point_field,
            prompt_field,
        )

    def style_of(self, sample: Sample) -> str | None:
        """``mbpp`` or ``humaneval`` for this row (``None``: it has neither style's tests)."""
        if self.style != "auto":
            return self.style
        if self.tests_field in sample.fields:
            return "mbpp"
        if self.test_field in sample.fields:
            return "humaneval"
        return None

    def entry_point(self, sample: Sample) -> str | None:
        ep = sample.fields.get(self.entry_point_field)
        return ep if isinstance(ep, str) and ep.isidentifier() else None

    def units(self, sample: Sample, code: ExtractedCode) -> list[Unit] | str:
        """The program for ``code`` on ``sample``, or why the sample cannot be run."""
        return build_units(self, sample, code)

    async def __call__(self, output_text: str, sample: Sample) -> Score:
        try:
            return await self._score(output_text, sample)
        except Exception as exc:  # a scorer never raises: a bug here is a sandbox error, not the model's
            why = f"code_exec failed: {type(exc).__name__}: {clip(str(exc), 200)}"
            return Score(
                0.0, None, why, "sandbox_error", {"sandbox": self.sandbox.name, "infrastructure": True}
            )

    async def _score(self, output_text: str, sample: Sample) -> Score:
        text = output_text if isinstance(output_text, str) else ""
        code = extract_code(text, self.entry_point(sample))
        if code is None:
            why = (
                "no code: the answer is empty"
                if not text.strip()
                else ("no code: the answer has no fenced block and no line that looks like Python")
            )
            return Score(0.0, None, why, "no_code", {"sandbox": self.sandbox.name})
        units = self.units(sample, code)
        answer = clip(code.code, _ANSWER_LIMIT)
        if isinstance(units, str):
            return Score(0.0, answer, units, "bad_sample", {"sandbox": self.sandbox.name})
        execution = await self.sandbox.run(units)
        return verdict(execution, code, units, answer)


def build_units(cfg: CodeExec, sample: Sample, code: ExtractedCode) -> list[Unit] | str:
    """MBPP: setup, code, one unit per assert. HumanEval: prompt + code (or the prompt's prefix + a
    repeated function), the tests, ``check(entry_point)``. A string says why the sample cannot run."""
    style = cfg.style_of(sample)
    fields = sample.fields
    if style == "mbpp":
        tests = fields.get(cfg.tests_field)
        if not isinstance(tests, list) or not tests or not all(isinstance(t, str) for t in tests):
            return (
                f"the sample has no tests: '{cfg.tests_field}' must be a non-empty list of assert statements"
            )
        setup = fields.get(cfg.setup_field)
        units = [Unit("<setup>", setup, "setup")] if isinstance(setup, str) and setup.strip() else []
        units.append(Unit("<solution>", code.code + "\n", "solution"))
        units += [Unit(f"<test {i}>", t, "test") for i, t in enumerate(tests, 1)]
        return units
    if style == "humaneval":
        test = fields.get(cfg.test_field)
        ep = cfg.entry_point(sample)
        if not isinstance(test, str) or not test.strip():
            return (
                f"the sample has no tests: '{cfg.test_field}' must be the code that defines check(candidate)"
            )
        if ep is None:
            return f"the sample has no '{cfg.entry_point_field}' (the name of the function to check)"
        raw_prompt = fields.get(cfg.prompt_field) if cfg.prompt_field else sample.input
        prompt = raw_prompt if isinstance(raw_prompt, str) else ""
        if defines(code.code, ep):
            program = _prompt_prefix(prompt, ep) + code.code
        else:
            program = prompt + ("" if not prompt or prompt.endswith("\n") else "\n") + code.code
        return [
            Unit("<solution>", program + "\n", "solution"),
            Unit("<tests>", test, "harness"),
            Unit("<check>", f"check({ep})", "test"),
        ]
    return (
        f"the sample has no tests: neither '{cfg.tests_field}' (MBPP style) nor '{cfg.test_field}' "
        "(HumanEval style) is among its fields"
    )


@scorer("code_exec", metrics=CodeExecAccumulator)
def code_exec(
    *,
    sandbox: str = "auto",
    max_parallel: int | None = None,
    timeout_s: float = 30.0,
    cpu_s: float | None = None,
    memory_mb: int = 512,
    processes: int = 16,
    file_mb: int = 16,
    style: str = "auto",
    tests_field: str = "test_list",
    setup_field: str = "test_setup_code",
    test_field: str = "test",
    entry_point_field: str = "entry_point",
    prompt_field: str | None = None,
    python: str | None = None,
    image: str = DEFAULT_IMAGE,
    nice: int = 10,
) -> CodeExec:
    """Run the model's code against the sample's tests (MBPP/HumanEval style) in a sandbox.

    Args:
        sandbox: ``auto`` (the strongest that works here: container, namespaces, process),
            ``container``, ``namespaces`` or ``process``. A forced one that does not work fails at load.
        max_parallel: samples run at once (default: the number of cores).
        timeout_s: wall clock per sample (default 30); cpu_s: CPU seconds per process (default
            the smaller of timeout_s and 10): the limit that stops a loop.
        memory_mb: address space per process; processes: processes/threads; file_mb: largest file.
        style: ``auto``, ``mbpp`` or ``humaneval``; the ``*_field`` arguments name the row's fields.
        prompt_field: HumanEval's prompt (default: the sample's input).
        python: the interpreter in the namespaces and process sandboxes (default: evalkit's).
        image: the container image (it must be present locally: nothing is pulled).
        nice: niceness of the sandboxed code, so it does not starve the model fan-out (0-19).
    """
    if sandbox not in KINDS:
        raise ValueError(f"sandbox must be one of {', '.join(KINDS)} (got {sandbox!r})")
    if style not in STYLES:
        raise ValueError(f"style must be one of {', '.join(STYLES)} (got {style!r})")
    prompt = None if prompt_field is None else _name(prompt_field, "prompt_field")
    names = [
        _name(v, a)
        for v, a in (
            (tests_field, "tests_field"),
            (setup_field, "setup_field"),
            (test_field, "test_field"),
            (entry_point_field, "entry_point_field"),
        )
    ]
    if python is not None and not isinstance(python, str):
        raise ValueError(f"python must be a path to an interpreter (got {python!r})")
    if not isinstance(image, str) or not image:
        raise ValueError(f"image must be a container image name (got {image!r})")
    limits = Limits(
        timeout_s=timeout_s, cpu_s=cpu_s, memory_mb=memory_mb, processes=processes, file_mb=file_mb
    )
    try:
        box = open_sandbox(sandbox, limits, max_parallel=max_parallel, nice=nice, python=python, image=image)
    except SandboxUnavailable as exc:
        raise ValueError(str(exc)) from None
    return CodeExec(
        box,
        style=style,
        tests_field=names[0],
        setup_field=names[1],
        test_field=names[2],
        entry_point_field=names[3],
        prompt_field=prompt,
    )
