"""The rate across Locust workers (``--processes N``, ``--master``/``--worker``): it is the whole run's, not
each worker's. The master tells its workers the rate (the stepped shape moves it there) and how many users
it is running in all, at once when either changes and every second anyway; each user paces to its share.
A worker's users send nothing until the master has been heard, so a run never starts at N times the rate.

Import only from a locustfile (Locust patches the process with gevent when it is imported).
"""

from __future__ import annotations

import time
from typing import Any

import gevent
from locust.runners import MasterRunner, WorkerRunner

from pytest_tracestack.load.pacing import Pacing, apply_message, pacing_message

MESSAGE = "tracestack_pacing"
BROADCAST_INTERVAL_S = 1.0
CHANGE_POLL_S = 0.05


def share_pacing(environment: Any, pacing: Pacing) -> None:
    """Wire ``pacing`` to the runner: broadcast it from a master, receive it on a worker, nothing locally."""
    runner = environment.runner
    if isinstance(runner, MasterRunner):
        gevent.spawn(_broadcast, runner, pacing)
    elif isinstance(runner, WorkerRunner):
        pacing.heard_from_master = False
        runner.register_message(MESSAGE, lambda msg, **_: apply_message(pacing, msg.data))


def _broadcast(runner: MasterRunner, pacing: Pacing) -> None:
    """Send the pacing at once when it changes (a step of the shape, users added), and every second anyway
    for workers that joined later."""
    last, sent_at = None, 0.0
    while True:
        # the users asked for, not the count the workers last reported: during ramp-up the latter lags,
        # and pacing to too few users would offer more than asked
        users = max(runner.target_user_count or 0, runner.user_count)
        message = pacing_message(pacing, users)
        if users and (message != last or time.monotonic() - sent_at >= BROADCAST_INTERVAL_S):
            runner.send_message(MESSAGE, message)
            last, sent_at = message, time.monotonic()
        gevent.sleep(CHANGE_POLL_S)
