"""``respdor datasets``: the measured data sets that come with respdor (list, path, source note)."""

from __future__ import annotations


def register(subparsers):
    p = subparsers.add_parser(
        "datasets",
        help="list the measured data sets that come with respdor, or print where one is",
        description="Measured third-party data sets (REDOR curves, Bruker spectra) with their origin and "
        "licence. `respdor datasets` lists them; `respdor datasets path NAME` prints the folder of one (fetching "
        "it first when it is not bundled); `respdor datasets source NAME` prints its SOURCE note.",
    )
    p.add_argument("action", nargs="?", choices=("list", "path", "source"), default="list",
                   help="list (default), path or source")
    p.add_argument("name", nargs="?", help="the data set (see `respdor datasets`)")
    p.set_defaults(func=run)


def run(args) -> int:
    from .. import datasets
    from ..errors import UserError

    if args.action == "list":
        for row in datasets.table():
            size = f"{row['size_bytes'] / 1e6:.2f} MB" if row["size_bytes"] else "fetched"
            print(f"{row['name']:<26}{size:>10}  {row['licence']:<18}{row['kind']}")
        return 0
    if not args.name:
        raise UserError(f"respdor datasets {args.action} needs the name of a data set; known: "
                        f"{', '.join(datasets.names())}")
    if args.action == "path":
        print(datasets.path(args.name))
    else:
        print(datasets.source(args.name), end="")
    return 0
