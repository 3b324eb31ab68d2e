"""bot: lands with its issue."""
