"""What runs in the grader's process: the checks that decide grades, and how they reach the student's kernel.

- :mod:`.channel`: requests to the student's kernel and its answers, as text (a kernel, or in-process for the
  course's own tests);
- :mod:`.proxies`: a student object as a handle, arguments sent and answers decoded as plain data;
- :mod:`.checks`: a grade cell's code run here, with the student's names resolved to handles, its outcome
  written as the cell's outputs.

:data:`GRADED_BY_THE_GRADER`: the assignments whose grade cells are decided here (the others still run their
test cells in the sandboxed kernel, behind the tamper scan and the canaries).
"""

#: assignments whose grade cells run in the grader's process, never in the student's kernel
GRADED_BY_THE_GRADER = frozenset({"01_amplitude_regression", "02_mnist_bayes_by_backprop", "03_jet_bayesian_cnn",
                                  "04_top_tagging_deepsets"})
