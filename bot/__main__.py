"""`python -m bot`: the console without Slack credentials, Slack with them; see `python -m bot --help`."""
import sys

from bot.cli import main

sys.exit(main())
