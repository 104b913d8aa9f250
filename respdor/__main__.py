"""``python -m respdor`` runs the command line."""

import sys

from .cli import main

# Guarded: Dask worker processes (spawn) re-import the main module and must not re-run the CLI.
if __name__ == "__main__":
    sys.exit(main())
