"""``python -m tasktonic`` (and the ``tasktonic`` command): demo, bench, info.

A bad option is one line on stderr and exit status 2 (argparse's usage block is left out: the
line names the option, ``--help`` shows the rest), never a traceback.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path
from typing import NoReturn

__all__ = ["main"]

#: The repository's benchmark, when tasktonic runs from a source checkout.
REPO_BENCH = Path(__file__).resolve().parent.parent / "bench" / "__main__.py"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def _parser() -> _Parser:
    parser = _Parser(prog="tasktonic", description="tasktonic: thousands of small stateful "
                     "tonics without a lock. Subcommands: demo, bench, info.")
    commands = parser.add_subparsers(dest="command", metavar="{demo,bench,info}")
    commands.required = True
    from .iot.demo import add_arguments
    add_arguments(commands.add_parser("demo", help="run the IoT fleet demo"))
    bench = commands.add_parser(
        "bench", help="run the benchmarks",
        description="In a source checkout: the repository's bench/ (`python -m bench`; every "
                    "other option is passed on to it, e.g. --only iot --reps 3). Installed: a "
                    "quick built-in benchmark (chain, fan-out, cross-thread) on the compiled "
                    "core and the pure twins, each in a subprocess.")
    bench.add_argument("--builtin", action="store_true",
                       help="run the built-in quick benchmark even in a source checkout")
    about = ("version, implementation (compiled or pure) and why, Python, platform, "
             "free-threading, and which optional integrations import")
    commands.add_parser("info", help=about, description=f"Print the {about}.")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = _parser()
    args, rest = parser.parse_known_args(argv)
    if rest and args.command != "bench":
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    try:
        if args.command == "demo":
            return _demo(parser, args, argv[argv.index("demo") + 1:])
        if args.command == "bench":
            return _bench(args.builtin, rest)
        from .info import report
        print(report())
        return 0
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `tasktonic info | head`: the reader left; no traceback
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


def _demo(parser: _Parser, args: argparse.Namespace, argv: list[str]) -> int:
    from .iot.demo import check, run
    problem = check(args)
    if problem:
        parser.error(problem)
    try:
        return run(args, argv)
    except ValueError as exc:  # FleetConfig's checks of the combination of values
        parser.error(str(exc))


def _bench(builtin: bool, rest: list[str]) -> int:
    if REPO_BENCH.exists() and not builtin:
        return subprocess.run([sys.executable, "-m", "bench", *rest],
                              cwd=REPO_BENCH.parent.parent).returncode
    if rest:
        _parser().error(f"the built-in benchmark takes no options: {' '.join(rest)}")
    from .quickbench import main as quick
    return quick()


if __name__ == "__main__":
    sys.exit(main())
