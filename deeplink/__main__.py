"""`python -m deeplink ...`: the `deeplink` command (e.g. `torchrun ... -m deeplink run SCRIPT`)."""
import sys

from .cli import main

sys.exit(main())
