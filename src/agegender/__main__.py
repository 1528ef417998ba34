"""``python -m agegender``: the same as the ``agegender`` command."""

import sys

from .cli import main

sys.exit(main())
