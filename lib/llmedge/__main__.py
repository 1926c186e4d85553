"""`python -m llmedge` is the same as the `llmedge` command."""

import sys

from llmedge.cli import main

sys.exit(main())
