"""Language identification for ``language:response_language`` and the two ``change_case:english_*`` kinds.

IFEval calls ``langdetect.detect`` and counts an instruction as followed when langdetect raises
(a text without letters: "No features in text"). langdetect samples n-grams at random; IFEval does
not seed it, so its verdict on a borderline text can change from run to run. Here every call uses a
private ``DetectorFactory`` seeded with 0: the same text always gets the same language, and the
process-wide ``langdetect`` state is left alone. langdetect ships its 55 language profiles inside
the package, so nothing is downloaded. Codes are langdetect's: ISO 639-1 (``en``, ``hi``, ``sw``),
plus ``zh-cn`` / ``zh-tw``.
"""

from __future__ import annotations

import threading
from typing import Any

__all__ = ["CODES", "UNDETECTABLE", "available", "detect"]

UNDETECTABLE = None
"""What :func:`detect` returns when langdetect cannot tell (IFEval then counts the instruction followed)."""

_CODES_TEXT = (
    "af ar bg bn ca cs cy da de el en es et fa fi fr gu he hi hr hu id it ja kn ko lt lv mk ml mr ne nl no "
    "pa pl pt ro ru sk sl so sq sv sw ta te th tl tr uk ur vi zh-cn zh-tw"
)
CODES = frozenset(_CODES_TEXT.split())
"""The 55 codes langdetect 1.0.9 can answer: a requested language outside them could never be met."""

_lock = threading.Lock()
_factory: Any = None


def available() -> str | None:
    """``None`` when langdetect can be imported, else why not (for the scorer's load-time check)."""
    try:
        import langdetect  # noqa: F401
    except ImportError as exc:
        return (
            f"the instructions scorer needs the 'langdetect' package (pip install langdetect==1.0.9): {exc}"
        )
    return None


def _get_factory() -> Any:
    global _factory
    with _lock:
        if _factory is None:
            from langdetect.detector_factory import PROFILES_DIRECTORY, DetectorFactory

            factory = DetectorFactory()
            factory.load_profile(PROFILES_DIRECTORY)
            factory.set_seed(0)
            _factory = factory
        return _factory


def detect(text: str) -> str | None:
    """The language code langdetect gives ``text``, or :data:`UNDETECTABLE`."""
    from langdetect.lang_detect_exception import LangDetectException

    try:
        detector = _get_factory().create()
        detector.append(text)
        return str(detector.detect())
    except LangDetectException:
        return UNDETECTABLE
