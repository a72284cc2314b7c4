"""``python -m stress``: the stress suite, then the benchmark report (see ``stress/runner.py``)."""

import sys

from stress.runner import main

sys.exit(main())
