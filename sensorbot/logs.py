"""Logging, set up the same way by every entry point: the CLI commands, the demo, the Lambdas."""

from __future__ import annotations

import logging

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Libraries that log routine work at INFO (apscheduler: two lines per alert cycle; httpx: one
# per Telegram request); their warnings and errors still show.
CHATTY = ("apscheduler", "httpx", "httpcore", "telegram", "uvicorn", "botocore", "boto3",
          "urllib3", "mangum")


def configure_logging(level: int = logging.INFO) -> None:
    """Our records at `level`, the chatty libraries' at WARNING or above. Idempotent."""
    root = logging.getLogger()
    if not root.handlers:  # the AWS Lambda runtime brings its own handler: keep it, add none
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        root.addHandler(handler)
    root.setLevel(level)
    for name in CHATTY:
        logging.getLogger(name).setLevel(max(level, logging.WARNING))
