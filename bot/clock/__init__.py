"""The clock process: the scheduler, alerting, digest posting and followed questions. Imports
`bot.core`, the root modules and `bot.slack`'s Web API helpers and Block Kit; never `bot.cli`."""
from .scheduler import digest_job, follow_job, refresh_job  # noqa: F401  (job ids stored as "bot.clock:...")
