"""report.html in a real browser: headless Chromium (its CLI, no driver) loads a report whose
model outputs are hostile, and the DOM it ends with must hold them as text only, every section,
and the explorer script's marks (it ran under the page's CSP and filtered by the URL's hash).

Skipped only when /usr/bin/chromium is absent. The screenshot is kept in tests/artifacts/.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from _runfolder import res, write_run

from evalkit.report import write_report
from evalkit.types import ErrorKind

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).parent / "artifacts"
PAYLOADS = [
    "<script>alert(1)</script>",
    "</script>",
    "<img src=x onerror=alert(1)>",
    "\"'><svg onload=alert(1)>",
    "'\"--></style></textarea><iframe src=javascript:alert(1)>",
]
SECTIONS = [
    "Verdict",
    "Models",
    "Closed vs open",
    "Gap per slice",
    "Cost vs quality",
    "Slices",
    "Examples",
    "Manifest",
]

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="/usr/bin/chromium is not installed (apt-get install chromium)"
)


class _Dom(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.h2: list[str] = []
        self._h2 = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._h2 = tag == "h2"

    def handle_endtag(self, tag: str) -> None:
        self._h2 = False

    def handle_data(self, data: str) -> None:
        if self._h2:
            self.h2.append(data.strip())


def _chromium(tmp_path: Path, *args: str) -> str:
    profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"
    cmd = [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--virtual-time-budget=2000",
        *args,
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=90, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("browser")
    rs = []
    for i in range(40):
        bad = PAYLOADS[i % len(PAYLOADS)]
        rs += [
            res(
                f"s{i}",
                "gpt",
                1.0,
                text=bad,
                input=f"q{i} {bad}",
                cost=0.002,
                tags={"kind": "a" if i % 2 else "b"},
            ),
            res(
                f"s{i}",
                "llama",
                1.0 if i % 3 else 0.0,
                text=bad,
                explanation=bad,
                cost=0.0004,
                tags={"kind": "a" if i % 2 else "b"},
            ),
        ]
    rs.append(res("s0", "qwen", error=ErrorKind.SERVER))
    rs += [res(f"s{i}", "qwen", 1.0 if i % 5 else 0.0, text=PAYLOADS[0], cost=None) for i in range(1, 40)]
    run = write_run(
        tmp / "demo" / "run",
        rs,
        models=[("gpt", "closed"), ("llama", "open"), ("qwen", "open")],
        gate={"scorer": "exact_match", "max_gap": 0.2},
    )
    write_report(run)
    return run / "report.html"


def test_hostile_outputs_stay_text_in_the_live_dom(report: Path, tmp_path: Path) -> None:
    dom = _chromium(tmp_path, "--dump-dom", report.as_uri())
    parser = _Dom()
    parser.feed(dom)
    names = [t for t, _ in parser.tags]
    assert names.count("script") == 1, "only the report's own script"
    for tag in ("img", "iframe", "textarea", "a", "object", "embed"):
        assert tag not in names, tag
    assert "svg" in names  # the report's own charts
    for tag, attrs in parser.tags:
        assert not any(k.startswith("on") for k in attrs), (tag, attrs)
    assert '<img src="x"' not in dom and "<svg onload" not in dom
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in dom
    assert "&lt;img src=x onerror=alert(1)&gt;" in dom
    assert "\"'&gt;&lt;svg onload=alert(1)&gt;" in dom
    for heading in SECTIONS:
        assert heading in parser.h2, heading
    table = next(a for t, a in parser.tags if t == "table" and a.get("id") == "examples")
    assert table.get("data-ready") == "1", "the explorer script ran under the CSP"
    assert table.get("data-shown") == str(report.read_text(encoding="utf-8").count('data-cat="'))
    assert (
        re.search(r"<title>evalkit · demo · [^<]*</title>", dom) and "shown (" not in dom.split("</title>")[0]
    )


def test_hash_filter_runs_in_the_browser(report: Path, tmp_path: Path) -> None:
    html = report.read_text(encoding="utf-8")
    expected = len(re.findall(r'data-cat="[^"]*\bdisagreements\b', html))
    assert 0 < expected < html.count('data-cat="')
    dom = _chromium(tmp_path, "--dump-dom", report.as_uri() + "#filter=disagreements")
    title = re.search(r"<title>(.*?)</title>", dom, re.S)
    assert title is not None and f"· {expected} shown (disagreements)" in title.group(1)
    assert f'data-shown="{expected}"' in dom


def test_screenshot_artifact(report: Path, tmp_path: Path) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    shot = tmp_path / "report.png"
    _chromium(
        tmp_path, f"--screenshot={shot}", "--window-size=1280,2400", "--hide-scrollbars", report.as_uri()
    )
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    shutil.copyfile(shot, ARTIFACTS / "report.png")
