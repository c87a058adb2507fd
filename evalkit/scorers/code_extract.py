"""Read the code out of a model's answer: a fenced block if there is one, else the whole answer.

Rules (``docs/scorers.md``, ``code_exec``):

* Fenced blocks are CommonMark-style: a line of three or more backticks (or tildes), optionally
  indented up to three spaces, with an info string (``python``); the block ends at a closing fence
  of the same character at least as long. A block the answer never closes (the model ran out of
  tokens) runs to the end of the answer.
* Candidates are the blocks tagged as Python (``python``, ``py``, ``python3``...) or untagged; when
  there are none, any block (a mislabelled one is still more likely code than prose).
* Of several candidates: the first that defines the entry point (``def name(``, or ``name =``);
  else the longest. One block is used, never several glued together.
* No fenced block: the whole answer, unless no line of it looks like Python (then: no code).
* An answer whose first fence is a bare closing line after Python-looking text (the prompt opened
  the block, the model continued inside it) counts that text as the first block.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Block", "ExtractedCode", "defines", "extract_code", "fenced_blocks", "looks_like_python"]

_OPEN = re.compile(r"^ {0,3}(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^`\n]*)$")
_PY_TAGS = re.compile(r"^(?:py|python|python3|py3|ipython|pycon|python[23](?:\.\d+)?)?$")
_PYTHON_LINE = re.compile(
    r"^[ \t]*(?:(?:def|class|import|from|return|for|while|if|elif|else|try|except|finally|with|yield|raise|"
    r"assert|lambda|async|await|global|nonlocal|pass|break|continue)\b|@\w|print\(|[A-Za-z_][\w.]*"
    r"(?:\[[^\]\n]*\])?[ \t]*(?:[-+*/%&|^]|//|\*\*|<<|>>)?=(?!=))",
    re.MULTILINE,
)


@dataclass(frozen=True, slots=True)
class Block:
    """One fenced block of the answer."""

    info: str
    """The info string's first word, lower case (``python``; ``""`` when untagged)."""
    body: str
    closed: bool
    continued: bool = False
    """The answer began inside a block the prompt opened (the code before its first, bare fence)."""

    @property
    def is_python(self) -> bool:
        return bool(_PY_TAGS.match(self.info))


@dataclass(frozen=True, slots=True)
class ExtractedCode:
    """The code to run and where it came from (for the verdict)."""

    code: str
    source: str
    """``fence`` (a closed fenced block), ``fence_unterminated`` or ``whole_answer``."""
    how: str
    """In words: "the only fenced block", "block 2 of 3, the one that defines f", "the whole answer"..."""
    n_blocks: int = 0


def fenced_blocks(text: str) -> list[Block]:
    """Every fenced block of ``text``, in order."""
    lines = text.split("\n")
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        m = _OPEN.match(lines[i])
        if m is None:
            i += 1
            continue
        fence = m.group("fence")
        info = (m.group("info").strip().split() or [""])[0].lower()
        close = re.compile(rf"^ {{0,3}}{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$")
        body: list[str] = []
        j = i + 1
        while j < len(lines) and not close.match(lines[j]):
            body.append(lines[j])
            j += 1
        blocks.append(Block(info, "\n".join(body), closed=j < len(lines)))
        i = j + 1
    return blocks


def defines(code: str, name: str | None) -> bool:
    """True when ``code`` defines ``name`` at any indentation (``def name(``, ``async def``, ``name =``)."""
    if not name:
        return False
    n = re.escape(name)
    return (
        re.search(rf"^[ \t]*(?:async[ \t]+)?def[ \t]+{n}[ \t]*\(|^{n}[ \t]*=", code, re.MULTILINE) is not None
    )


def looks_like_python(text: str) -> bool:
    """True when some line starts like a Python statement (a keyword, a call of print, an assignment)."""
    return _PYTHON_LINE.search(text) is not None


def _continued_block(text: str) -> Block | None:
    """The code before the answer's first fence when that fence is bare (no info string) and the
    text before it looks like Python: the answer started inside a block the prompt opened."""
    lines = text.split("\n")
    for i, line in enumerate(lines):
        m = _OPEN.match(line)
        if m is None:
            continue
        before = "\n".join(lines[:i])
        if m.group("info").strip() or not before.strip() or not looks_like_python(before):
            return None
        return Block("", before, closed=True, continued=True)
    return None


def _ordinal(i: int, n: int) -> str:
    return "the only fenced block" if n == 1 else f"block {i + 1} of {n}"


def extract_code(text: str, entry_point: str | None = None) -> ExtractedCode | None:
    """The code in ``text`` (see the module docstring), or ``None`` when there is none."""
    if not isinstance(text, str) or not text.strip():
        return None
    text = text.replace("\r\n", "\n")
    blocks = fenced_blocks(text)
    lead = _continued_block(text)
    if lead is not None:
        # The prompt opened the fence and the answer continued inside it: its first fence closes it.
        blocks = [lead, *blocks[1:]]
    if not blocks:
        if not looks_like_python(text):
            return None
        return ExtractedCode(text.strip("\n").rstrip(), "whole_answer", "the whole answer (no fenced block)")
    candidates = [(i, b) for i, b in enumerate(blocks) if b.is_python] or list(enumerate(blocks))
    chosen = next(((i, b) for i, b in candidates if defines(b.body, entry_point)), None)
    if chosen is not None:
        why = f", the one that defines {entry_point}" if len(candidates) > 1 else ""
    else:
        chosen = max(candidates, key=lambda ib: (len(ib[1].body.strip()), -ib[0]))
        why = ", the longest" if len(candidates) > 1 else ""
    i, block = chosen
    tag = f" (```{block.info})" if block.info and not block.is_python else ""
    if not block.body.strip():
        return None
    where = "the code before the answer's first fence" if block.continued else _ordinal(i, len(blocks))
    how = f"{where}{tag}{why}"
    if not block.closed:
        how += ", never closed"
    return ExtractedCode(
        block.body.strip("\n").rstrip(), "fence" if block.closed else "fence_unterminated", how, len(blocks)
    )
