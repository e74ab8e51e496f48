"""``python -m quality_gates.shared.cli``: the same as the ``quality-gates`` command."""

import sys

from quality_gates.shared.cli.main import main

sys.exit(main())
