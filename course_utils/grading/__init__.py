"""Grades decided outside the student's process: the trust boundary of autograding, in two halves.

- ``student_side``: what runs in the student's kernel while a submission is graded. Only the probe
  server (:mod:`.student_side.probe_server`): it answers requests (resolve a name, build an object,
  call it, read an attribute, run backward) with plain data. It holds no test, no expected value and
  no reference; whatever it answers is only data that the grader compares.
- ``grader_side``: what runs in the grader's process (the nbgrader process of phase 1, outside the
  sandbox): the grade cells' checks, with the reference and the hidden tests, driving the student's
  kernel through :mod:`.grader_side.channel`; a student object is only ever a handle (:mod:`.grader_side.proxies`).
- :mod:`.wire`: the format both speak: JSON with arrays as ``.npy`` bytes read with ``allow_pickle=False``;
  no object of the student's is ever built in the grader's process.
"""
