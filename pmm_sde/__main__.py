"""``python -m pmm_sde <command>``: the ``pmm-sde`` command line (``pmm_sde.cli.main``), so that
``torchrun -m pmm_sde ...`` can start it."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
