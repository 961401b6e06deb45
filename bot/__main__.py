"""`python -m bot`: the console without Slack credentials; `ask` and `console` subcommands."""
import sys

from .cli import main

sys.exit(main())
