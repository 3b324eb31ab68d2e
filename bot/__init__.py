"""The Telegram edge: one python-telegram-bot Application (bot.app), thin command handlers,
the alert transport that implements alerts' `Notifier` (bot.transport), the alert buttons'
protocol (bot.alert_buttons), charts and the chat's wording. Decisions live in alerts/ and
core/; handlers parse, call and answer."""
