"""Run ``evalkit`` from another checkout (for before/after figures): ``python bench/as_checkout.py DIR ARGS...``.

The virtual environment installs this checkout in editable mode through an import hook that wins
over ``PYTHONPATH``; this drops the hook and puts ``DIR`` first on the path.
"""

from __future__ import annotations

import sys

if __name__ == "__main__":
    root = sys.argv[1]
    sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in getattr(f, "__module__", "").lower()]
    sys.path.insert(0, root)
    for name in [m for m in sys.modules if m == "evalkit" or m.startswith("evalkit.")]:
        del sys.modules[name]
    import evalkit
    from evalkit.cli import main

    assert evalkit.__file__ and evalkit.__file__.startswith(root), evalkit.__file__
    sys.argv = ["evalkit", *sys.argv[2:]]
    sys.exit(main())
