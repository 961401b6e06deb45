"""`python -m bot`: the console without Slack credentials, Slack with them; see `python -m bot --help`."""
import signal
import sys

from bot.cli import main

if hasattr(signal, "SIGPIPE"):
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `python -m bot ask ... | head` ends quietly
sys.exit(main())
