"""``python -m agegender.cli``: the ``agegender`` command."""

import sys

from .main import main

sys.exit(main())
