"""Command line: python -m tsimb datasets | run CHAPTER | verify [CHAPTER ...] | bench.

Building the parser imports neither torch nor the rest of the library, so that --help
answers at once; chapter and grid names are looked up only when a command, or the help
of ``run`` and ``verify``, needs them.

Every mistake a user can make (a bad argument or environment variable, an unknown name,
a data set that is not there, a store that cannot be written) ends as one line on
stderr, ``tsimb: error: ...``, and exit code 2, argparse's convention; Ctrl-C ends as one
line and exit code 130. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import math
import sys
import textwrap
from pathlib import Path
from typing import Callable

EXIT_USER_ERROR = 2  # argparse's convention
EXIT_INTERRUPTED = 130  # 128 + SIGINT, the shell's convention

DESCRIPTION = """\
tsimb: learning from imbalanced time series, the command line of the tsimb book.
Each command has its own help, e.g. tsimb run --help."""


class UserError(Exception):
    """A mistake the user can fix: :func:`main` prints the message alone and exits 2."""


class Interrupted(Exception):
    """Ctrl-C, with a message saying what was kept: :func:`main` prints it and exits 130."""


class Parser(argparse.ArgumentParser):
    """argparse, with its errors as one line (no usage block) raised as :class:`UserError`,
    so that :func:`main` reports every user error the same way."""

    def error(self, message: str) -> None:  # type: ignore[override]
        command = self.prog.removeprefix("tsimb").strip()  # "verify", or "" for the top level
        raise UserError(f"{command + ': ' if command else ''}{message} (see {self.prog} --help)")


class LazyHelp(argparse.Action):
    """``-h``/``--help`` that first runs ``fill(parser)`` to add what needs the library
    (chapter and grid names), so that only asking for this help imports it."""

    def __init__(self, option_strings: list[str], dest: str = argparse.SUPPRESS,
                 fill: Callable[[argparse.ArgumentParser], None] | None = None,
                 help: str = "show this help and exit") -> None:
        super().__init__(option_strings, dest, default=argparse.SUPPRESS, nargs=0, help=help)
        self.fill = fill

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        if self.fill is not None:
            self.fill(parser)
        parser.print_help()
        parser.exit()


# ----- argument types: each refuses a bad value with what it expected ----------------

def _number_type(convert: Callable[[str], float], accept: Callable[[float], bool], unparsed: str,
                 refused: str) -> Callable[[str], float]:
    """An argparse type: ``convert`` the text (``unparsed`` names what was expected when that
    fails), then refuse a value ``accept`` rejects (``refused`` names the range)."""
    def parse(text: str):
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {unparsed}, got {text!r}") from None
        if not accept(value):
            raise argparse.ArgumentTypeError(f"must be {refused}, got {text!r}")
        return value
    return parse


positive_int = _number_type(int, lambda v: v >= 1, "a whole number of at least 1", "at least 1")
workers = _number_type(int, lambda v: v >= 0, "a whole number of at least 0", "at least 0")  # 0: none
peak = _number_type(float, lambda v: math.isfinite(v) and v > 0, "a number of GFLOP/s", "a positive number of GFLOP/s")
# a duration: at least 0 seconds (``inf`` allowed: no limit)
seconds = _number_type(float, lambda v: not math.isnan(v) and v >= 0, "a number of seconds",
                       "a number of seconds of at least 0")


# ----- lazily filled help ------------------------------------------------------------

def _chapters_epilog(with_grids: bool) -> Callable[[argparse.ArgumentParser], None]:
    def fill(parser: argparse.ArgumentParser) -> None:
        from .experiments import CHAPTERS, experiment, resolve_profile, written_chapters

        try:
            profile = resolve_profile()
        except ValueError:  # a bad $TSIMB_PROFILE: the help still shows the default's grids
            profile = "quick"
        lines = []
        for name in written_chapters():
            line = f"  {name:<18} {CHAPTERS[name].title}"
            if with_grids:
                try:
                    line += f"; grids: {', '.join(experiment(name).grids(profile))}"
                except (ValueError, RuntimeError) as error:  # e.g. the full profile's data offline
                    line += f"; grids not listed ({error})"
            lines.append(line)
        head = f"chapters and their grids (profile {profile}):" if with_grids else "chapters:"
        parser.epilog = "\n".join([head, *lines])

    return fill


# ----- the parser ---------------------------------------------------------------------

def build_parser() -> Parser:
    """The command line's parser. Imports nothing heavy (see the module docstring)."""
    raw = argparse.RawDescriptionHelpFormatter
    parser = Parser(prog="tsimb", description=DESCRIPTION, formatter_class=raw)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", help="one of:")

    sub.add_parser("datasets", help="list the data sets that load offline and those that need a download",
                   description="List the data sets that load offline (archive folders, then bundled "
                               "packages) and those a profile would have to download.")

    run = sub.add_parser(
        "run", add_help=False, formatter_class=raw,
        help="compute a chapter's grids into the run store (resumes where it stopped)",
        description=textwrap.fill(
            "Compute a chapter's grids into the run store, one line per run as it finishes. Runs "
            "already stored are not computed again, so an interrupted run resumes where it stopped "
            "(Ctrl-C keeps every finished run).", 80))
    run.add_argument("-h", "--help", action=LazyHelp, fill=_chapters_epilog(with_grids=True))
    run.add_argument("chapter", metavar="CHAPTER", help="the chapter to compute (listed below)")
    run.add_argument("--profile", choices=("quick", "full"), default=None,
                     help="quick: small budgets, bundled data, minutes a chapter on a CPU; full: the "
                          "papers' data sets and budgets, for a GPU (default: $TSIMB_PROFILE, else quick)")
    run.add_argument("--grid", action="append", metavar="NAME",
                     help="compute only this grid (repeatable; default: all of the chapter's, listed below)")
    run.add_argument("--store", metavar="DIR",
                     help="run store folder (default: $TSIMB_STORE, else book/runs of this checkout)")
    run.add_argument("--recompute", action="store_true", help="compute again even the runs already stored")
    run.add_argument("--out", metavar="FILE.csv", help="also write the tidy table of the grids to this CSV file")
    run.add_argument("--jobs", type=positive_int, default=None, metavar="N",
                     help="worker processes, one thread each (default: one per usable core; 1: in this process)")
    run.add_argument("--ensemble", action=argparse.BooleanOptionalAction, default=None,
                     help="train the runs that differ only in their seed as one batched model each, in this "
                          "process (default: on a GPU only; on a CPU worker processes are faster)")

    from_verify = ("Re-execute stored runs and compare them with the store. Every call re-executes "
                   "one run per chapter in full (metrics and loss trace, bit for bit), chosen in "
                   "rotation with the commit among the runs whose stored wall time fits --budget; the "
                   "other sampled runs are re-executed in full when short, else replayed: their first "
                   "epochs are trained again and the loss trace compared (trace checked, metrics not). "
                   "Exit 1 on a mismatch.")
    verify = sub.add_parser("verify", add_help=False, formatter_class=raw, description=textwrap.fill(from_verify, 80),
                            help="re-execute stored runs and compare them with the store")
    verify.add_argument("-h", "--help", action=LazyHelp, fill=_chapters_epilog(with_grids=False))
    verify.add_argument("chapters", nargs="*", metavar="CHAPTER", help="chapters to verify (default: all)")
    verify.add_argument("--sample", type=positive_int, default=None, metavar="N",
                        help="runs per chapter: the rotation's run, then one of the uncorrected reference, "
                             "one of the chapter's own method, then random ones (default 3)")
    verify.add_argument("--budget", type=seconds, default=None, metavar="SECONDS",
                        help="the rotation draws among runs whose stored wall time is at most this "
                             "(default 90; inf: every run)")
    verify.add_argument("--store", metavar="DIR", help="run store folder (default: book/runs of this checkout)")
    verify.add_argument("--commit", help="the commit that picks the runs (default: HEAD)")
    verify.add_argument("--full-seconds", type=seconds, default=None, metavar="SECONDS",
                        help="the other sampled runs are re-executed in full when they took at most "
                             "this long, else replayed (default 20)")
    verify.add_argument("--replay-epochs", type=positive_int, default=None, metavar="N",
                        help="epochs a replay trains and compares (default 2)")

    bench = sub.add_parser(
        "bench", help="throughput: fit against a bare PyTorch loop, augmentations and attacks, GAN epochs",
        description="fit: samples per second of tsimb's fit beside a bare PyTorch loop (ResNet, random "
                    "data; --n, --length, --epochs, --batch-size apply). augment: series per second of "
                    "the ODE-guided augmentations, Spec-Den and the attacks. gan: one GAN epoch beside "
                    "a classifier's. adversarial: one PGD-k epoch beside a natural one.")
    bench.add_argument("what", nargs="?", choices=("fit", "augment", "gan", "adversarial"), default="fit",
                       help="what to time (default: fit)")
    bench.add_argument("--n", type=positive_int, default=256, help="fit: number of series (default 256)")
    bench.add_argument("--length", type=positive_int, default=128, help="fit: series length (default 128)")
    bench.add_argument("--epochs", type=positive_int, default=5, help="fit: epochs per timing (default 5)")
    bench.add_argument("--batch-size", type=positive_int, default=32, help="fit: minibatch size (default 32)")
    bench.add_argument("--repeats", type=positive_int, default=3,
                       help="timings per measurement; the median is reported (default 3)")
    bench.add_argument("--device", default=None,
                       help="cpu, cuda, cuda:N or mps (default: $TSIMB_DEVICE, else CUDA when present)")
    bench.add_argument("--jobs", type=workers, default=None, metavar="N",
                       help="fit: worker processes side by side, one thread each (default: one per core; 0: skip)")
    bench.add_argument("--compile", action="store_true", help="fit: also time torch.compile (its warm-up takes minutes)")
    bench.add_argument("--ensemble", type=int, default=0, metavar="K",
                       help="fit: also time K runs trained as one batched model (0, the default: skip)")
    bench.add_argument("--peak-gflops", type=peak, default=None, metavar="GFLOPS",
                       help="the device's peak for the utilisation column (default: estimated)")
    return parser


# ----- the commands -------------------------------------------------------------------

def _datasets(_: argparse.Namespace) -> int:
    from .data import archive_dirs, archive_names, dataset_table, default_data_dir, is_cached
    from .experiments import experiment, written_chapters

    print(f"Archive folders ($TSIMB_ARCHIVE): {', '.join(map(str, archive_dirs())) or 'none'}")
    print("Load offline (archive folders first, then bundled packages):")
    table = dataset_table()
    print(table.to_string(index=False))
    wanted = sorted({d for name in written_chapters() for profile in ("quick", "full")
                     for d in experiment(name).datasets(profile)})
    offline = set(table["name"])
    missing = [n for n in wanted if n not in offline]
    if missing:
        print(f"\nNeeded by a profile but not offline; downloaded into {default_data_dir()}:")
        for name in missing:
            state = "cached" if is_cached(name) else "needs a download"
            print(f"  {name:<24} {state if name in archive_names() else 'not an archive name'}")
    return 0


def checked_out(text: str | None) -> Path | None:
    """``--out`` as a path that can be written, checked before any run is computed."""
    if text is None:
        return None
    out = Path(text).expanduser()
    if out.is_dir():
        raise UserError(f"--out {out} is a folder; give a file in it, e.g. {out / 'table.csv'}")
    if not out.parent.is_dir():
        raise UserError(f"--out {out}: the folder {out.parent} does not exist")
    existed = out.exists()
    try:  # the one sure test of writability (permissions, read-only file systems, root)
        with open(out, "a"):
            pass
    except OSError as error:
        raise UserError(f"--out {out} cannot be written ({error.strerror or error})") from None
    if not existed:
        out.unlink()
    return out


def _run(args: argparse.Namespace) -> int:
    from .experiments import config_key, experiment, resolve_profile
    from .experiments.runner import run_threads
    from .experiments.store import RunStore, default_store_dir
    from .registry import closest
    from .runtime import get_device

    exp = experiment(args.chapter)
    profile = resolve_profile(args.profile)
    # a bad $TSIMB_THREADS or $TSIMB_DEVICE: refused now, not after the first run
    run_threads()
    get_device()
    if args.ensemble and args.jobs not in (None, 1):
        raise UserError(f"--ensemble trains in this process: drop --jobs {args.jobs} (or --ensemble)")
    folder = args.store or default_store_dir()
    if folder is None:
        raise UserError("no run store: pass --store DIR (or set TSIMB_STORE)")
    store = RunStore(folder)
    store.check_writable()
    out = checked_out(args.out)
    grids = exp.grids(profile)
    names = list(dict.fromkeys(args.grid or grids))  # a grid named twice is computed and written once
    for name in names:
        if name not in grids:
            raise UserError(f"{args.chapter}: {closest('grid', name, grids)}")
    chapter, path = exp.chapter, store.path(exp.chapter)
    keys = {config_key(c) for name in names for c in grids[name]}

    def stored(wanted: set[str]) -> int:
        return len(wanted & set(store.records(chapter)))

    import pandas as pd

    tables = []
    try:
        for grid in names:
            configs = grids[grid]
            if not configs:
                print(f"{args.chapter} / {grid}: no runs under the {profile} profile")
                continue
            grid_keys = {config_key(c) for c in configs}
            before = stored(grid_keys)
            if before == len(grid_keys) and not args.recompute:
                print(f"{args.chapter} / {grid}: nothing to compute, all {len(grid_keys)} runs are stored in {path}")
            # the chapter's own table (what its notebook shows); the store alone is read and
            # written, never the local cache, so that the store ends complete
            table = exp.run(profile, grid, progress=True, store=store, cache=None, write="store",
                            recompute=args.recompute, jobs=args.jobs, ensemble=args.ensemble)
            tables.append(table.assign(grid=grid) if len(names) > 1 else table)
            if args.recompute or before < len(grid_keys):
                print(f"{args.chapter} / {grid}: {stored(grid_keys)} of {len(grid_keys)} runs stored in {path}")
    except KeyboardInterrupt:
        again = "run the same command without --recompute" if args.recompute else "run the same command again"
        raise Interrupted(f"interrupted: {stored(keys)} of {len(keys)} runs of {args.chapter} "
                          f"({', '.join(names)}) are stored in {path}; {again} to resume") from None
    if out is not None:
        if not tables:
            print(f"no rows: {out} not written")
            return 0
        table = pd.concat(tables, ignore_index=True)
        table.to_csv(out, index=False)
        print(f"wrote {len(table)} rows to {out}")
    return 0


def _verify(args: argparse.Namespace) -> int:
    from .experiments.verify import verify_cli

    return verify_cli(args)


def _bench(args: argparse.Namespace) -> int:
    from .runtime import get_device

    get_device(args.device)  # a bad --device or $TSIMB_DEVICE: refused before anything is timed
    from .bench import benchmark, benchmark_augment

    if args.what == "augment":
        import pandas as pd

        table = pd.DataFrame(benchmark_augment(repeats=args.repeats, device=args.device))
        print(table.to_string(index=False, float_format=lambda v: f"{v:,.0f}"))
        return 0
    if args.what == "adversarial":
        import pandas as pd

        from .bench import benchmark_adversarial

        table = pd.DataFrame(benchmark_adversarial(n=args.n, length=args.length, epochs=args.epochs,
                                                   batch_size=args.batch_size, device=args.device))
        print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
        return 0
    if args.what == "gan":
        from .generative import benchmark_gan

        result = benchmark_gan(repeats=args.repeats, device=args.device)
        for key, value in result.items():
            shown = (f"{value:,.0f}" if value >= 100 else f"{value:.3f}") if isinstance(value, float) else value
            print(f"{key:>28}: {shown}")
        return 0
    from .bench import utilisation_table

    result = benchmark(n=args.n, length=args.length, epochs=args.epochs, batch_size=args.batch_size,
                       repeats=args.repeats, device=args.device, jobs=args.jobs, compiled=args.compile,
                       ensemble=args.ensemble, peak=args.peak_gflops)
    for key, value in result.items():
        if key != "modes":
            print(f"{key:>32}: {value:.3f}" if isinstance(value, float) else f"{key:>32}: {value}")
    print(utilisation_table(result).to_string(index=False, float_format=lambda v: f"{v:,.1f}"))
    return 0


HANDLERS: dict[str, Callable[[argparse.Namespace], int]] = {
    "datasets": _datasets, "run": _run, "verify": _verify, "bench": _bench}


# ----- errors: the one place where they become exit codes ------------------------------

def is_user_error(error: BaseException) -> bool:
    """A mistake the user can fix (see the module docstring), not a bug in tsimb."""
    if isinstance(error, (UserError, ValueError)):  # ValueError: bad arguments, unknown names
        return True
    from .data.datasets import DatasetUnavailableError
    from .experiments.store import StoreError

    return isinstance(error, (DatasetUnavailableError, StoreError))


def one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


def main(argv: list[str] | None = None) -> int:
    """Run the command line on ``argv`` (default: ``sys.argv[1:]``) and return the exit
    code: 0 done, 1 ``verify`` found a mismatch, 2 a user error, 130 interrupted."""
    try:
        args = build_parser().parse_args(argv)
        return HANDLERS[args.command](args)
    except SystemExit as stop:  # --help
        return stop.code if isinstance(stop.code, int) else 0 if stop.code is None else EXIT_USER_ERROR
    except Interrupted as stop:
        print(f"tsimb: {stop}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except KeyboardInterrupt:
        print("tsimb: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as error:
        if not is_user_error(error):
            raise
        print(f"tsimb: error: {one_line(error)}", file=sys.stderr)
        return EXIT_USER_ERROR


if __name__ == "__main__":
    sys.exit(main())
