"""alerts: lands with its issue."""
