"""`python -m deeplink.conformance run|record|diff|trace ...`"""
import sys

from .cli import main

sys.exit(main())
