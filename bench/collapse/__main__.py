"""``python -m bench.collapse toy``: the 1-D toy check."""

import sys

from bench.collapse.toy import main

sys.exit(main())
