"""Alerts: rules, the pure state machine, the cycle that evaluates and delivers, and the
use-cases the chat calls (add, replace, delete, acknowledge, snooze). Knows nothing of
Telegram: delivery goes through the `Notifier` protocol."""
