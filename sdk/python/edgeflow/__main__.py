"""``python3 -m edgeflow worker --pool P module:worker``."""
import sys

from .cli import main

sys.exit(main())
