"""`python -m portico ...` is the `portico` command."""

import sys

from portico.cli import main

sys.exit(main())
