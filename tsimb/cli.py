"""Command line: ``python -m tsimb datasets | run CHAPTER | bench``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

CHAPTERS = ("baselines", "ode-augmentation")


def _datasets(_: argparse.Namespace) -> int:
    from .data import bundled_datasets, dataset_table, default_cache_dir, is_cached

    print("Bundled (load offline):")
    print(dataset_table().to_string(index=False))
    from .experiments import baselines, ode_augmentation

    settings = [*baselines.SETTINGS.values(), *ode_augmentation.SETTINGS.values()]
    wanted = sorted({d for s in settings for d in s.datasets} - set(bundled_datasets()))
    print(f"\nNeeded by the full profile, downloaded into {default_cache_dir()}:")
    for name in wanted:
        print(f"  {name:<24} {'cached' if is_cached(name) else 'needs a download'}")
    return 0


def _run(args: argparse.Namespace) -> int:
    import pandas as pd

    from .experiments import baselines, ode_augmentation, resolve_profile
    from .experiments.runner import RunCache

    grids = {"baselines": (baselines.run,),
             "ode-augmentation": (ode_augmentation.run, ode_augmentation.run_imbalanced)}
    profile = resolve_profile(args.profile)
    cache = RunCache(args.cache) if args.cache else RunCache()
    table = pd.concat([grid(profile, cache=cache, progress=True) for grid in grids[args.chapter]],
                      ignore_index=True)
    out = Path(args.out or f"{args.chapter}-{profile}.csv")
    table.to_csv(out, index=False)
    print(f"wrote {len(table)} rows to {out}")
    return 0


def _bench(args: argparse.Namespace) -> int:
    from .bench import benchmark, benchmark_augment

    if args.what == "augment":
        import pandas as pd

        table = pd.DataFrame(benchmark_augment(repeats=args.repeats, device=args.device))
        print(table.to_string(index=False, float_format=lambda v: f"{v:,.0f}"))
        return 0
    result = benchmark(n=args.n, length=args.length, epochs=args.epochs, batch_size=args.batch_size,
                       repeats=args.repeats, device=args.device)
    for key, value in result.items():
        print(f"{key:>20}: {value:.3f}" if isinstance(value, float) else f"{key:>20}: {value}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tsimb", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("datasets", help="list data sets that load offline and those that need a download")
    run = sub.add_parser("run", help="run a chapter's experiment headless and write its tidy table")
    run.add_argument("chapter", choices=CHAPTERS)
    run.add_argument("--profile", choices=("quick", "full"), default=None)
    run.add_argument("--out", help="CSV path (default CHAPTER-PROFILE.csv)")
    run.add_argument("--cache", help="folder of cached runs (default $TSIMB_CACHE or ~/.cache/tsimb/runs)")
    bench = sub.add_parser("bench", help="fit versus a bare PyTorch loop (fit), or augmentation and "
                                         "attack throughput (augment)")
    bench.add_argument("what", nargs="?", choices=("fit", "augment"), default="fit")
    bench.add_argument("--n", type=int, default=256)
    bench.add_argument("--length", type=int, default=128)
    bench.add_argument("--epochs", type=int, default=5)
    bench.add_argument("--batch-size", type=int, default=32)
    bench.add_argument("--repeats", type=int, default=3)
    bench.add_argument("--device", default=None)
    args = parser.parse_args(argv)
    handlers = {"datasets": _datasets, "run": _run, "bench": _bench}
    return handlers[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
