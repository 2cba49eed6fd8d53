"""`python -m ganjax ...` is the `ganjax` command."""
import sys

from ganjax.commands import main

sys.exit(main())
