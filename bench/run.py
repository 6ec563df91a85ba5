"""``python -m bench.run [NAME …] [--scale S]``: run benchmarks and write their figures to RESULTS.md."""

from __future__ import annotations

import argparse

from bench import exports, feedback, graphql, load, monitor, queries, reports, security, sync

BENCHMARKS = {
    "load": load.main,
    "queries": queries.main,
    "graphql": graphql.main,
    "security": security.main,
    "monitor": monitor.main,
    "sync": sync.main,
    "feedback": feedback.main,
    "reports": reports.main,
    "exports": exports.main,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("names", nargs="*", default=list(BENCHMARKS), help=f"any of {', '.join(BENCHMARKS)}")
    parser.add_argument("--scale", default="province", help="small, medium or province (default)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    for name in args.names:
        BENCHMARKS[name](scale=args.scale, seed=args.seed)


if __name__ == "__main__":
    main()
