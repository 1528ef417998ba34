"""``python -m agegender``: the same as the ``agegender`` command."""

import sys

from .cli.main import main

sys.exit(main())
