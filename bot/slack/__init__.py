"""The Slack front end: the Bolt app, its listeners and services, Block Kit replies, the Home tab,
the web server, access rules, the manifest and the web processes' sync with the clock. Imports
`bot.core` and the root modules; never `bot.clock` or `bot.cli`."""
