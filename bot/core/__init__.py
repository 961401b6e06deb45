"""The command core every front end shares: grammar, commands, rendering, charts, the digest's text
and the deal data holder. Imports only `insights/` and the shared root modules (`bot.config`,
`bot.store`); never `bot.slack`, `bot.clock` or `bot.cli` (checked by import-linter, see pyproject.toml)."""
