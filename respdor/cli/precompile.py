"""``respdor precompile``: compile the simulation engines' numba kernels once, before the first run."""

from __future__ import annotations


def register(subparsers):
    from ..jobs.precompile import TARGETS

    p = subparsers.add_parser(
        "precompile",
        help="compile the simulation kernels for this machine now, so that the first simulation starts at once",
        description="The simulation engines are compiled by numba on first use and cached per machine and "
        "respdor version; the first simulation on a new machine therefore compiles for seconds (the fast "
        "engine: several times the simulation itself). This command compiles the kernels of every engine "
        "and of the multi-partner model now: run it once after installing (an image, a cluster node, the "
        "server of `respdor app`). On a machine that has done it for this version it compiles nothing.",
    )
    p.add_argument("--only", action="append", choices=TARGETS, metavar="TARGET",
                   help=f"compile only this engine or model ({', '.join(TARGETS)}); repeat for several")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..jobs.precompile import TARGETS, estimated_seconds, label, precompile

    targets = args.only or list(TARGETS)
    names = ", ".join(label(t) for t in targets)
    print(f"respdor precompile: {names}: up to about {estimated_seconds(targets):.0f} CPU s where nothing is "
          "compiled yet (once per machine and respdor version), seconds otherwise", flush=True)

    def progress(target, row):
        if row is None:
            print(f"  {label(target)} ...", end="", flush=True)
        elif row["compiled"]:
            print(f" {row['compiled']} kernel files compiled, {row['cpu_s']:.1f} CPU s", flush=True)
        else:
            print(f" cached already ({row['cpu_s']:.1f} CPU s to load)", flush=True)

    result = precompile(targets, progress)
    print(f"kernels cached in {result.cache}: later runs on this machine start without compiling")
    return 0
