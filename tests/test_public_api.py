"""The public face (``evalkit/__init__.py``): a sorted, complete ``__all__`` of names that resolve, no
import-time cost (httpx's ``test_exported_members`` habit), and the layering the package is built on."""

from __future__ import annotations

import subprocess
import sys

import evalkit


def test_all_is_sorted_and_every_name_resolves() -> None:
    assert evalkit.__all__ == sorted(evalkit.__all__)
    assert set(evalkit.__all__) == {*evalkit._EXPORTS, "__version__"}
    for name in evalkit.__all__:
        value = getattr(evalkit, name)
        assert value is not None, name
        if name != "__version__":
            assert getattr(value, "__name__", name) == name or name == "ScoreFn", name


def test_an_unknown_name_is_an_attribute_error() -> None:
    try:
        evalkit.no_such_thing  # noqa: B018
    except AttributeError as exc:
        assert "no_such_thing" in str(exc)
    else:  # pragma: no cover
        raise AssertionError("an unknown name resolved")


def test_importing_evalkit_imports_nothing_heavy() -> None:
    code = "import sys, evalkit; evalkit.load_suite; print(sorted(m for m in ('litellm', 'pandas', 'openai', 'aiohttp') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
