"""The command line: parse, call the library, map outcomes to exit codes.

Kept thin and cheap to import: ``evalkit --help`` and ``evalkit validate`` never import
LiteLLM. Exit codes are :class:`evalkit.errors.ExitCode` (README, "Exit codes").
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from evalkit._version import __version__
from evalkit.errors import EvalkitError, ExitCode


def _err(msg: str) -> None:
    print(f"evalkit: {msg}", file=sys.stderr)


def _out(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="evalkit",
        description="Run your own examples through closed and open models and decide whether the task can move.",
        epilog="Exit codes: 0 ok / migrate, 1 stay (gate failed), 2 usage or configuration error, "
        "3 infrastructure failure or insufficient data, 4 inconclusive, 5 migrate partially "
        "(gate.partial.allow), 130 interrupted (resumable).",
    )
    p.add_argument("--version", action="version", version=f"evalkit {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run a suite (or --resume an interrupted run) and write its report")
    run.add_argument("suite", nargs="?", help="suites/NAME.yaml, or just NAME")
    run.add_argument("--resume", metavar="RUN_DIR", type=Path, help="continue an interrupted run")
    run.add_argument("--models", help="comma-separated display names to run (default: all)")
    run.add_argument("--limit", type=int, help="only the first N samples")
    run.add_argument(
        "--output",
        type=Path,
        default=Path(os.environ.get("EVALKIT_RESULTS_DIR", "results")),
        help="results folder (default: results/ or $EVALKIT_RESULTS_DIR)",
    )
    run.add_argument("--no-cache", action="store_true", help="neither read nor write the response cache")
    run.add_argument("--no-progress", action="store_true", help="no progress display")
    run.add_argument(
        "--max-cost", type=float, metavar="USD", help="stop sending before this spend (overrides the suite)"
    )
    run.add_argument(
        "--gate", action="store_true", help="apply the suite's gate after the report (its exit code)"
    )
    run.add_argument(
        "--shard",
        metavar="I/N",
        help="run only shard I of N (1-based: 1/4 ... 4/4) of the samples; combine with `evalkit merge`",
    )
    run.add_argument(
        "--batch",
        action="store_true",
        help="send the closed openai/ and anthropic/ models through their batch APIs (half price, "
        "results within 24 h; docs/scaling-batch.md)",
    )
    run.add_argument(
        "--poll-interval",
        type=float,
        metavar="S",
        help="seconds between batch status polls (default: $EVALKIT_BATCH_POLL_S, else 30; backs off to 10x)",
    )

    val = sub.add_parser("validate", help="check a suite, its data and its prompt without calling any model")
    val.add_argument("suite")

    doc = sub.add_parser(
        "doctor", help="check that every model of a suite can be reached (no completion is sent)"
    )
    doc.add_argument("suite")

    rep = sub.add_parser("report", help="regenerate a run's report files from its folder alone")
    rep.add_argument("run_dir", type=Path)

    gate = sub.add_parser(
        "gate",
        help="decide from a finished run: 0 migrate, 1 stay, 4 inconclusive, 3 cannot decide, "
        "5 migrate partially",
    )
    gate.add_argument("run_dir", type=Path)

    cmp_ = sub.add_parser(
        "compare",
        help="one row per task across several suites' runs: best closed vs best open, gap, Holm p, verdict",
    )
    cmp_.add_argument("run_dirs", nargs="+", type=Path, metavar="RUN_DIR")
    cmp_.add_argument("--output", type=Path, metavar="DIR", help="also write compare.csv and compare.md here")

    mrg = sub.add_parser(
        "merge", help="combine the run folders of one suite's shards into one run folder and its report"
    )
    mrg.add_argument("run_dirs", nargs="+", type=Path, metavar="RUN_DIR")
    mrg.add_argument(
        "--output",
        type=Path,
        metavar="DIR",
        help="write the merged run folder here (default: results/<suite>/<new run id>, or under $EVALKIT_RESULTS_DIR)",
    )

    bat = sub.add_parser("batch", help="provider batch jobs of a run: `batch status RUN_DIR`")
    bat_sub = bat.add_subparsers(dest="batch_command", required=True, metavar="SUBCOMMAND")
    bat_status = bat_sub.add_parser(
        "status",
        help="each batch job of a run: provider, id, state, counts (from the run folder; no network)",
    )
    bat_status.add_argument("run_dir", type=Path)

    sub.add_parser("schema", help="print the JSON Schema of the suite file format")
    sub.add_parser("scorers", help="list the registered scorers")

    score = sub.add_parser("score", help="score outputs you already have (no model is called)")
    score.add_argument("--scorer", required=True)
    score.add_argument("--args", help="scorer arguments as JSON")
    score.add_argument(
        "--input", required=True, type=Path, help="JSONL rows with 'output' and the sample fields"
    )

    local = sub.add_parser("local", help="the embedded offline models: list, or serve one over HTTP")
    local.add_argument("local_args", nargs=argparse.REMAINDER)
    return p


def console() -> None:
    """The ``evalkit`` command (and ``python -m evalkit``): :func:`main`, then the exit.

    Once LiteLLM is loaded, tearing the interpreter down (freeing every module and object) takes
    about 0.25 s after the run has ended -- time a CI job waits for nothing, since by then every
    file evalkit writes is closed. So the exit handlers run (they stop an embedded model's server)
    and the process leaves with ``os._exit``; without LiteLLM it exits the usual way.
    """
    code = main()
    if "litellm" not in sys.modules:
        raise SystemExit(code)
    import atexit
    import contextlib

    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe: nothing more can be said
            stream.flush()
    os._exit(code)


def main(argv: Sequence[str] | None = None) -> int:
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help is 0, a usage error is 2
        return int(exc.code or 0)
    try:
        return int(_dispatch(args))
    except EvalkitError as exc:
        _err(f"error: {exc.message}")
        return int(exc.exit_code)
    except KeyboardInterrupt:
        _err("interrupted")
        return int(ExitCode.INTERRUPTED)
    except Exception as exc:
        if os.environ.get("EVALKIT_DEBUG"):
            raise
        from evalkit._util.redact import redact

        _err(
            f"internal error: {redact(f'{type(exc).__name__}: {exc}')} (set EVALKIT_DEBUG=1 for the traceback)"
        )
        return int(ExitCode.INFRASTRUCTURE)


def _dispatch(args: argparse.Namespace) -> int:
    cmd = args.command
    if cmd == "run":
        return _run(args)
    if cmd == "validate":
        return _validate(args.suite)
    if cmd == "doctor":
        return _doctor(args.suite)
    if cmd == "report":
        from evalkit.report import write_report

        for path in write_report(args.run_dir):
            print(path)
        return ExitCode.OK
    if cmd == "gate":
        return _gate(args.run_dir)
    if cmd == "compare":
        return _compare(args)
    if cmd == "merge":
        return _merge(args)
    if cmd == "batch":
        from evalkit.cli.batch_status import batch_status

        print(batch_status(args.run_dir))
        return ExitCode.OK
    if cmd == "schema":
        from evalkit.config.schema import suite_json_schema

        print(json.dumps(suite_json_schema(), indent=2))
        return ExitCode.OK
    if cmd == "scorers":
        from evalkit.scorers.registry import registered

        for name, spec in registered().items():
            print(f"{name:<16} {spec.help}")
        return ExitCode.OK
    if cmd == "score":
        from evalkit.cli.score import run_score

        return run_score(args.scorer, args.args, args.input, sys.stdout, sys.stderr)
    if cmd == "local":
        from evalkit.providers.local_serve import main as local_main

        return int(local_main(args.local_args))
    raise AssertionError(cmd)  # pragma: no cover - argparse rejects unknown commands


def _run(args: argparse.Namespace) -> int:
    from evalkit.config.load import load_suite
    from evalkit.errors import ConfigError
    from evalkit.run.runner import Runner, RunOptions, resume
    from evalkit.rundir.shard import parse_shard

    shard = parse_shard(args.shard) if args.shard is not None else None
    if args.poll_interval is not None:
        from evalkit.run.batch import poll_interval

        poll_interval(args.poll_interval)  # a bad value fails here, before anything is sent
    if args.resume is not None:
        if args.suite or args.models or args.limit or args.batch:
            raise ConfigError(
                "--resume takes only the run folder: the run continues with the options it started with"
            )
        outcome = resume(
            args.resume,
            use_cache=not args.no_cache,
            progress=not args.no_progress,
            max_cost_usd=args.max_cost,
            echo=_out,
            shard=shard,
            batch_poll_s=args.poll_interval,
        )
    else:
        if not args.suite:
            raise ConfigError(
                "run: give a suite (e.g. evalkit run suites/classification.yaml) or --resume RUN_DIR"
            )
        if args.limit is not None and args.limit < 1:
            raise ConfigError("--limit must be at least 1")
        loaded = load_suite(args.suite)
        models = [m.strip() for m in args.models.split(",") if m.strip()] if args.models else None
        opts = RunOptions(
            models=models,
            limit=args.limit,
            output_dir=args.output,
            use_cache=not args.no_cache,
            progress=not args.no_progress,
            max_cost_usd=args.max_cost,
            shard=shard,
            batch=args.batch,
            batch_poll_s=args.poll_interval,
        )
        runner = Runner(loaded, opts, echo=_out)
        for w in runner.dataset.warnings:
            _out(f"warning: {w}")
        outcome = runner.execute()
    _out(outcome.message)
    if outcome.exit_code == ExitCode.OK and args.gate:
        return _gate(outcome.run_dir)
    return int(outcome.exit_code)


def _merge(args: argparse.Namespace) -> int:
    """Combine shard run folders; exit 2 when they are not shards of one run, 0 when merged (a
    partial merge is 0 too, with a warning; its gate says the run is partial)."""
    from evalkit.report import write_report
    from evalkit.rundir.merge import merge_runs

    outcome = merge_runs(args.run_dirs, output=args.output, echo=_out)
    write_report(outcome.run_dir)
    _out(outcome.message)
    return ExitCode.OK


def _doctor(suite_arg: str) -> int:
    from evalkit.config.load import load_suite
    from evalkit.providers.doctor import check_model

    loaded = load_suite(suite_arg)
    checks = [check_model(m) for m in loaded.suite.models]
    for c in checks:
        print(f"{'ok  ' if c.ok else 'FAIL'}  {c.model}: {c.detail}")
    return int(ExitCode.OK if all(c.ok for c in checks) else ExitCode.INFRASTRUCTURE)


def _validate(suite_arg: str) -> int:
    from evalkit.config.dataset import load_dataset
    from evalkit.config.load import load_suite
    from evalkit.config.prompt import Renderer

    loaded = load_suite(suite_arg)
    suite = loaded.suite
    ds = load_dataset(loaded.dataset_path, suite.dataset)
    renderer = Renderer(
        suite.prompt, file_vars=loaded.file_vars, hidden=suite.dataset.hidden, where=str(loaded.path)
    )
    for s in ds.samples:
        renderer.render(s)
    from evalkit.config.prices import load_user_prices

    load_user_prices()  # a broken user price file is reported here, not after the run
    for w in ds.warnings:
        _out(f"warning: {w}")
    first = ds.samples[0]
    print(
        f"{loaded.path}: ok — suite '{suite.name}' v{suite.version}, {len(ds)} examples "
        f"(sha256 {ds.sha256[:12]}), {len(suite.models)} models, scorers: {', '.join(s.key for s in suite.scorers)}"
    )
    print(f"first example ({first.id}) renders as:")
    for m in renderer.render(first):
        print(f"--- {m['role']} ---")
        print(m["content"])
    return ExitCode.OK


def _gate(run_dir: Path) -> int:
    """One line per rule, then the verdict: exit 0 migrate, 1 stay, 3 cannot decide, 4 inconclusive
    (0 with a warning line when the suite sets ``gate.inconclusive: pass``), 5 migrate partially
    (``gate.partial.allow``). The same decision as the report's, from the same pass over the ledger."""
    from evalkit.analysis.gate import gate_config_from_manifest
    from evalkit.analysis.outcome import format_gate, gate_exit_code
    from evalkit.report import load_report_data
    from evalkit.rundir.manifest import read_manifest

    gate_config_from_manifest(read_manifest(run_dir))  # a bad gate is a usage error (exit 2)
    outcome = load_report_data(run_dir, example_limit=0).gate
    assert outcome is not None  # the gate read above
    print(format_gate(outcome))
    return int(gate_exit_code(outcome))


def _compare(args: argparse.Namespace) -> int:
    """The cross-task table; exit 2 when two runs of one task are not comparable."""
    from evalkit.analysis.compare import compare_runs
    from evalkit.report.compare import format_table, write_compare

    table = compare_runs(args.run_dirs)
    print(format_table(table))
    if args.output is not None:
        for path in write_compare(table, args.output):
            _out(f"wrote {path}")
    return ExitCode.OK
