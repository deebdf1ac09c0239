import sys

from mhmailbox.cli import main

sys.exit(main())
