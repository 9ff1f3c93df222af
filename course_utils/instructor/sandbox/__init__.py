"""The trust boundary of `make grade`: what a student's code may see and do, and how the grader checks it.

Student code is hostile. Everything here runs in the grader's process (never in the student's kernel),
except the kernel command that :mod:`kernel_sandbox` builds:

- :mod:`kernel_sandbox`: the isolation this machine allows (bubblewrap as root with a user per worker,
  bubblewrap in an unprivileged user namespace, or none), and the sandbox a kernel runs in: its own
  PID, network, IPC and UTS namespaces, hard limits set outside it, a read-only view of exactly what a
  notebook needs, private scratch space and a whitelisted environment;
- :mod:`kernel_manager`: the jupyter_client kernel manager that starts the kernel in that sandbox and
  talks to it over unix sockets;
- :mod:`tamper_scan`: a static scan of every cell the student could edit for constructs an answer
  never needs (IPython hooks, frames, ``exec``, monkeypatching, processes, sockets, ...);
- :mod:`canaries`: grader-inserted copies of real test cells that must fail: one that passes means
  the kernel reports failing code as passing;
- :mod:`feedback_filter`: what a student's feedback shows of grade cells with hidden tests.
"""
