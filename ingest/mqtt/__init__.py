"""The MQTT subscriber: store each message's readings, and only then acknowledge it."""
