"""``junit.xml``: one test case for the task's verdict, one per gate rule and one per open model's
partial migration, for CI test views.

Written with :mod:`xml.etree.ElementTree` (every attribute and text is escaped) after removing
the characters XML 1.0 cannot hold. Mapping: pass -> passed; fail and inconclusive -> ``<failure>``
(with the reason as its message); infrastructure and insufficient data -> ``<error>``. The verdict
*migrate partially* (exit 5) is a ``<failure type="migrate partially">`` whose body carries the routing
rule; with ``gate.partial.allow`` each open model's partial migration is also a passed case whose
output says what it found (the verdict case carries the decision).
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from evalkit._util.io import atomic_write_bytes
from evalkit.analysis.outcome import GateOutcome, Overall, RuleStatus, format_gate
from evalkit.analysis.partial import PartialAnalysis
from evalkit.analysis.summary import RunSummary
from evalkit.report.verdict import task_verdict
from evalkit.rundir.manifest import Manifest

__all__ = ["render_junit", "write_junit", "xml_text"]

_INVALID = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(value: Any) -> str:
    """``value`` as text XML 1.0 can hold (control characters and lone surrogates removed)."""
    return _INVALID.sub("", "" if value is None else str(value))


def _case(parent: ET.Element, classname: str, name: str) -> ET.Element:
    return ET.SubElement(
        parent, "testcase", {"classname": xml_text(classname), "name": xml_text(name), "time": "0"}
    )


def _mark(case: ET.Element, kind: str, type_: str, message: str, body: str | None = None) -> None:
    el = ET.SubElement(case, kind, {"type": xml_text(type_), "message": xml_text(message)})
    el.text = xml_text(body if body is not None else message)


def render_junit(
    summary: RunSummary,
    manifest: Manifest,
    gate: GateOutcome | None,
    max_gap: float | None,
    partial: PartialAnalysis | None = None,
) -> bytes:
    tv = task_verdict(summary, gate, max_gap)
    classname = f"evalkit.{summary.suite}"
    suite = ET.Element(
        "testsuite",
        {
            "name": xml_text(f"evalkit {summary.suite}"),
            "timestamp": xml_text(manifest.started_at or ""),
        },
    )
    props = ET.SubElement(suite, "properties")
    for k, v in (
        ("run_id", summary.run_id),
        ("status", summary.status),
        ("gate_scorer", summary.gate_scorer),
    ):
        ET.SubElement(props, "property", {"name": k, "value": xml_text(v or "")})
    case = _case(suite, classname, f"verdict: {summary.suite}")
    if gate is None:
        _mark(case, "error", "no gate", tv.sentence)
    elif gate.overall is Overall.STAY:
        _mark(case, "failure", "stay", tv.sentence, format_gate(gate))
    elif gate.overall is Overall.INCONCLUSIVE:
        _mark(case, "failure", "inconclusive", tv.sentence, format_gate(gate))
    elif gate.overall is Overall.INFRASTRUCTURE:
        _mark(case, "error", "cannot decide", tv.sentence, format_gate(gate))
    elif gate.overall is Overall.PARTIAL:
        rule = json.dumps(gate.routing_rule, ensure_ascii=False, sort_keys=True)
        _mark(case, "failure", "migrate partially", tv.sentence, f"{format_gate(gate)}\nrouting rule: {rule}")
    else:
        ET.SubElement(case, "system-out").text = xml_text(tv.sentence)
    for r in gate.rules if gate is not None else ():
        case = _case(suite, f"{classname}.gate", r.name)
        if r.status in (RuleStatus.FAIL, RuleStatus.INCONCLUSIVE):
            _mark(case, "failure", r.status.value, r.reason)
        elif r.status in (RuleStatus.INFRASTRUCTURE, RuleStatus.INSUFFICIENT):
            _mark(case, "error", r.status.value, r.reason)
        else:
            ET.SubElement(case, "system-out").text = xml_text(r.reason)
    for e in partial.entries if partial is not None and partial.allow else ():
        case = _case(suite, f"{classname}.partial", f"partial migration {e.open_model}")
        ET.SubElement(case, "system-out").text = xml_text(e.reason)
    cases = suite.findall("testcase")
    suite.set("tests", str(len(cases)))
    suite.set("failures", str(sum(c.find("failure") is not None for c in cases)))
    suite.set("errors", str(sum(c.find("error") is not None for c in cases)))
    suite.set("skipped", "0")
    root = ET.Element("testsuites", {"name": "evalkit"})
    for k in ("tests", "failures", "errors"):
        root.set(k, suite.get(k, "0"))
    root.append(suite)
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


def write_junit(
    summary: RunSummary,
    manifest: Manifest,
    gate: GateOutcome | None,
    path: str | Path,
    max_gap: float | None = None,
    partial: PartialAnalysis | None = None,
) -> Path:
    path = Path(path)
    atomic_write_bytes(path, render_junit(summary, manifest, gate, max_gap, partial))
    return path
