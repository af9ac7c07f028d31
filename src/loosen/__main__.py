"""``python -m loosen`` is the ``loosen`` command."""
import sys

from .cli import main

sys.exit(main())
