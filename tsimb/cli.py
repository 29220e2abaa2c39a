"""Command line: ``python -m tsimb datasets | run CHAPTER | verify [CHAPTER ...] | bench``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _datasets(_: argparse.Namespace) -> int:
    from .data import (
        archive_dirs,
        archive_names,
        dataset_table,
        default_data_dir,
        is_cached,
    )
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


def _run(args: argparse.Namespace) -> int:
    from .experiments import experiment, resolve_profile
    from .experiments.store import RunStore, default_store_dir

    exp = experiment(args.chapter)
    profile = resolve_profile(args.profile)
    folder = args.store or default_store_dir()
    if folder is None:
        print("no run store: pass --store DIR (or set TSIMB_STORE)", file=sys.stderr)
        return 2
    store = RunStore(folder)
    store.check_writable()
    out = Path(args.out) if args.out else None
    if out is not None and not out.parent.exists():
        print(f"--out: folder {out.parent} does not exist", file=sys.stderr)
        return 2
    names = exp.grid_names(args.grid, profile)  # unknown names: ValueError with the closest ones
    table = exp.run(profile, names, progress=True, store=store, write="store", recompute=args.recompute,
                    jobs=args.jobs)
    print(f"{args.chapter}: {', '.join(names)} in {store.path(exp.chapter)}")
    if out is not None:
        table.to_csv(out, index=False)
        print(f"wrote {len(table)} rows to {out}")
    return 0


def _verify(args: argparse.Namespace) -> int:
    from .experiments.verify import verify_cli

    return verify_cli(args)


def _bench(args: argparse.Namespace) -> int:
    for name in ("repeats", "epochs", "n", "length", "batch_size"):
        if getattr(args, name) < 1:
            print(f"bench: --{name.replace('_', '-')} must be at least 1, got {getattr(args, name)}", file=sys.stderr)
            return 2
    from .bench import benchmark, benchmark_augment

    if args.what == "augment":
        import pandas as pd

        table = pd.DataFrame(benchmark_augment(repeats=args.repeats, device=args.device))
        print(table.to_string(index=False, float_format=lambda v: f"{v:,.0f}"))
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
                       peak=args.peak_gflops)
    for key, value in result.items():
        if key != "modes":
            print(f"{key:>32}: {value:.3f}" if isinstance(value, float) else f"{key:>32}: {value}")
    print(utilisation_table(result).to_string(index=False, float_format=lambda v: f"{v:,.1f}"))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tsimb", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("datasets", help="list data sets that load offline and those that need a download")
    from .experiments import written_chapters

    run = sub.add_parser("run", help="compute a chapter's grids into the run store (resumes where it stopped)")
    run.add_argument("chapter", choices=written_chapters())
    run.add_argument("--profile", choices=("quick", "full"), default=None)
    run.add_argument("--grid", action="append", help="only this grid (repeatable; default: all of the chapter's)")
    run.add_argument("--store", help="run store folder (default: book/runs of this checkout, or $TSIMB_STORE)")
    run.add_argument("--recompute", action="store_true", help="compute again even what is stored")
    run.add_argument("--out", help="also write the tidy table to this CSV file")
    run.add_argument("--jobs", type=int, default=None,
                     help="worker processes, one thread each (default: one per core; 1: in this process)")
    verify = sub.add_parser("verify", help="re-execute a sample of stored runs and compare with the store")
    verify.add_argument("chapters", nargs="*", help="chapters (default: all)")
    verify.add_argument("--sample", type=int, default=None, help="runs per chapter (default 4, at least 3)")
    verify.add_argument("--store", help="run store folder (default: book/runs of this checkout)")
    verify.add_argument("--commit", help="the commit that picks the sample (default: HEAD)")
    verify.add_argument("--full-seconds", type=float, default=None,
                        help="re-execute runs that took at most this long in full (default 20)")
    verify.add_argument("--replay-epochs", type=int, default=None, help="epochs replayed otherwise (default 2)")
    bench = sub.add_parser("bench", help="fit versus a bare PyTorch loop (fit), augmentation and attack "
                                         "throughput (augment), or one GAN epoch beside a classifier's (gan)")
    bench.add_argument("what", nargs="?", choices=("fit", "augment", "gan"), default="fit")
    bench.add_argument("--n", type=int, default=256)
    bench.add_argument("--length", type=int, default=128)
    bench.add_argument("--epochs", type=int, default=5)
    bench.add_argument("--batch-size", type=int, default=32)
    bench.add_argument("--repeats", type=int, default=3)
    bench.add_argument("--device", default=None)
    bench.add_argument("--jobs", type=int, default=None, help="fit: worker processes side by side (default: cores; 0: skip)")
    bench.add_argument("--compile", action="store_true", help="fit: also time torch.compile (warm-up: minutes)")
    bench.add_argument("--peak-gflops", type=float, default=None, help="the device's peak (default: estimated)")
    args = parser.parse_args(argv)
    handlers = {"datasets": _datasets, "run": _run, "verify": _verify, "bench": _bench}
    return handlers[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
