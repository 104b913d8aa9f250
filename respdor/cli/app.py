"""``respdor app``: the local web app (fit, in a browser), served by Panel."""

from __future__ import annotations

import argparse
import errno
import sys

from ..errors import UserError

_DESCRIPTION = """\
Start the respdor web app on this machine and open it in the browser: fit a curve (the bundled
example or a file you upload), see the figure, the table and every warning, export the result,
and copy the equivalent `respdor fit` command line and Python code.

The app reads and writes only inside the folder it was started in (exports go where you say,
through the same checks as `respdor fit`); uploads are kept in a private temporary folder that is
removed when the app stops. Stop it with Ctrl-C. Needs the 'app' extra: pip install 'respdor[app]'.
"""

_LOOPBACK = ("127.0.0.1", "localhost", "::1")


def register(subparsers):
    p = subparsers.add_parser("app", help="start the web app (fit in the browser)", description=_DESCRIPTION,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=5006, help="port to listen on (default 5006)")
    p.add_argument("--no-browser", action="store_true", help="do not open a browser window")
    p.set_defaults(func=run)


def run(args) -> int:
    if not 0 < args.port < 65536:
        raise UserError(f"--port {args.port}: must be between 1 and 65535")
    try:
        import panel  # noqa: F401 - only to know whether the extra is installed
    except ImportError:
        raise UserError("respdor app needs the 'app' extra: pip install 'respdor[app]'") from None
    if args.host not in _LOOPBACK:
        print(f"respdor: warning: --host {args.host}: the app is reachable from other machines on the network, "
              "and anyone who reaches it can fit, upload and export in this folder", file=sys.stderr)
    from ..app.serve import serve

    def ready(url):
        print(f"respdor app: serving on {url} (Ctrl-C to stop)", file=sys.stderr, flush=True)

    try:
        serve(args.host, args.port, show=not args.no_browser, ready=ready)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise UserError(f"--port {args.port}: already in use; give another port") from None
        raise
    return 0
