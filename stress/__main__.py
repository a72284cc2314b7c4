"""``python -m stress``: for now, the benchmark report (the stress scenarios come with their own issue)."""

import sys

from stress.bench import main

sys.exit(main(sys.argv[1:]))
