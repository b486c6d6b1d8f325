"""`python -m kosha ...`: the same as the `kosha` command."""

import sys

from .cli import main

sys.exit(main())
