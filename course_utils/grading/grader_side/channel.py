"""How a request reaches the student's process and its answer comes back, as text both ways.

:class:`KernelChannel` speaks to a grading kernel: one ``execute_request`` starts the probe server's
listener, then each request is a message of a comm to it and the answer the comm's message back (a third of
an ``execute_request``'s round trip). Nothing of the kernel's but that text is read. Every request has a
deadline (the check's time left): past it the kernel is interrupted and the check fails.
:class:`LocalChannel` answers in this process, from a namespace the course's own tests fill with the
instructor's or a variant's code (never a student's).
"""
from __future__ import annotations

import asyncio
import queue
import time
import uuid

from ..student_side import probe_server


#: the longest wait for one message, in seconds (what a channel without a deadline waits at most)
MAX_WAIT = 24 * 3600.0


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
    """The code a kernel runs for one request answered by a display (``probe_server.serve``)."""
    return f"__import__({probe_server.__name__!r}, fromlist=['serve']).serve({request_text!r})"


#: the code that starts the probe server's comm listener in a kernel
LISTEN_CODE = f"__import__({probe_server.__name__!r}, fromlist=['listen']).listen()"


class KernelChannel:
    """Requests to a running kernel through a jupyter_client ``AsyncKernelClient``."""

    def __init__(self, client, interrupt=None, run=None):
        self.client, self.interrupt = client, interrupt
        self._run = run
        self.deadline = float("inf")
        self.requests = 0
        self.comm_id: str | None = None

    def exchange(self, request_text: str) -> str:
        from jupyter_core.utils import run_sync

        self.requests += 1
        run = self._run or run_sync
        if self.comm_id is None:
            run(self._open)(self._remaining())
        return run(self._comm_exchange)(request_text, self._remaining())

    def _remaining(self) -> float:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise ChannelTimeout("the check ran out of time")
        return remaining

    async def _open(self, seconds: float) -> None:
        """Start the listener, then open a comm to it."""
        if await self._execute(LISTEN_CODE, seconds) != "listening":
            raise ChannelTimeout("the student's kernel did not start the probe server (its output was changed or lost)")
        comm_id = uuid.uuid4().hex
        await self._send_and_collect("comm_open", {"comm_id": comm_id, "target_name": probe_server.COMM_TARGET, "data": {}},
                                     comm_id, time.monotonic() + seconds)
        self.comm_id = comm_id

    async def _comm_exchange(self, request_text: str, seconds: float) -> str:
        answer = await self._send_and_collect("comm_msg", {"comm_id": self.comm_id, "data": {"request": request_text}},
                                              self.comm_id, time.monotonic() + seconds)
        if answer is None:
            raise ChannelTimeout("the student's kernel gave no answer to a request (its probe server was changed or lost)")
        return answer

    async def _send_and_collect(self, kind: str, content: dict, comm_id: str, deadline: float) -> str | None:
        """Send a comm message; the last answer of the comm ``comm_id`` to it, once the kernel is idle again."""
        message = self.client.session.msg(kind, content)
        msg_id = message["header"]["msg_id"]
        self.client.shell_channel.send(message)
        answer = None
        while True:
            reply = await self._next(self.client.get_iopub_msg, deadline)
            if reply.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind, body = reply.get("msg_type"), reply.get("content", {})
            if kind == "comm_msg" and body.get("comm_id") == comm_id:
                data = body.get("data", {}).get("answer") if isinstance(body.get("data"), dict) else None
                answer = data if isinstance(data, str) else answer
            elif kind == "status" and body.get("execution_state") == "idle":
                return answer

    async def _execute(self, code: str, seconds: float) -> str | None:
        """Run ``code``; its last display under ``probe_server.MIME``, once the kernel has replied."""
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
        return answer

    async def _next(self, getter, deadline: float) -> dict:
        remaining = deadline - time.monotonic()
        try:
            if remaining <= 0:
                raise queue.Empty
            return await getter(timeout=min(remaining, MAX_WAIT))
        except (queue.Empty, asyncio.TimeoutError, TimeoutError):
            if self.interrupt is not None:
                try:
                    await self.interrupt()
                except Exception:  # noqa: BLE001  (a dead kernel cannot be interrupted)
                    pass
            raise ChannelTimeout("the student's code did not answer within the check's time") from None
