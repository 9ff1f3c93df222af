"""How a request reaches the student's process and its answer comes back, as text both ways.

:class:`KernelChannel` speaks to a grading kernel: one ``execute_request`` per request, whose code is a
single call of the probe server with the request as a string literal; the answer is the last display
under ``probe_server.MIME`` of that request. Nothing of the kernel's but that text is read. Every
request has a deadline (the check's time left): past it the kernel is interrupted and the check fails.
:class:`LocalChannel` answers in this process, from a namespace the course's own tests fill with the
instructor's or a variant's code (never a student's).
"""
from __future__ import annotations

import asyncio
import queue
import time

from ..student_side import probe_server


class ChannelTimeout(Exception):
    """The student's process did not answer before the check's deadline."""


class LocalChannel:
    """Requests answered in this process (for trusted code: the course's tests)."""

    def __init__(self, namespace: dict):
        self.server = probe_server.ProbeServer(namespace)
        self.requests = 0

    def exchange(self, request_text: str) -> str:
        """The answer, with this process's torch and NumPy global state kept as the grader had it (a kernel
        has its own: its random draws, autograd mode and default dtype are not the grader's)."""
        import numpy as np
        import torch

        self.requests += 1
        saved = (torch.random.get_rng_state(), np.random.get_state(), torch.is_grad_enabled(), torch.get_default_dtype())
        try:
            return probe_server.respond(self.server, request_text)
        finally:
            torch.random.set_rng_state(saved[0])
            np.random.set_state(saved[1])
            torch.set_grad_enabled(saved[2])
            torch.set_default_dtype(saved[3])


def request_code(request_text: str) -> str:
    """The code a kernel runs for one request."""
    return (f"__import__({probe_server.__name__!r}, fromlist=['serve']).serve({request_text!r})")


class KernelChannel:
    """Requests to a running kernel through a jupyter_client ``AsyncKernelClient``."""

    def __init__(self, client, interrupt=None, run=None):
        self.client, self.interrupt = client, interrupt
        self._run = run
        self.deadline = float("inf")
        self.requests = 0

    def exchange(self, request_text: str) -> str:
        from jupyter_core.utils import run_sync

        self.requests += 1
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise ChannelTimeout("the check ran out of time")
        return (self._run or run_sync)(self._exchange)(request_code(request_text), remaining)

    async def _exchange(self, code: str, seconds: float) -> str:
        msg_id = self.client.execute(code, silent=False, store_history=False, allow_stdin=False, stop_on_error=False)
        deadline = time.monotonic() + seconds
        answer = None
        while True:
            message = await self._next(self.client.get_iopub_msg, deadline)
            if message.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind, content = message.get("msg_type"), message.get("content", {})
            if kind in ("display_data", "execute_result"):
                data = content.get("data", {}).get(probe_server.MIME)
                answer = data if isinstance(data, str) else answer
            elif kind == "status" and content.get("execution_state") == "idle":
                break
        while True:  # the reply on the shell channel, so the next request starts clean
            reply = await self._next(self.client.get_shell_msg, deadline)
            if reply.get("parent_header", {}).get("msg_id") == msg_id:
                break
        if answer is None:
            raise ChannelTimeout("the student's kernel gave no answer to a request (its output was changed or lost)")
        return answer

    async def _next(self, getter, deadline: float) -> dict:
        remaining = deadline - time.monotonic()
        try:
            if remaining <= 0:
                raise queue.Empty
            return await getter(timeout=remaining)
        except (queue.Empty, asyncio.TimeoutError, TimeoutError):
            if self.interrupt is not None:
                try:
                    await self.interrupt()
                except Exception:  # noqa: BLE001  (a dead kernel cannot be interrupted)
                    pass
            raise ChannelTimeout("the student's code did not answer within the check's time") from None
