"""The workbook: write HTTP/1.1 and WebSocket yourself, one function at a time.

``rawproto exercises init DIR`` writes a package of stubs, ``check DIR`` runs
the checks (RFC vectors, plus h11 and wsproto as independent oracles) against
the learner's code in a time-bounded child process, ``solution NAME`` prints
the model answer. The pieces:

* :mod:`~rawproto.exercises.table` — the exercises, in course order (the one
  source of names, tasks, hints and RFC sections);
* :mod:`~rawproto.exercises.reference` — the model answers, stdlib only;
* :mod:`~rawproto.exercises.checks` — the checks, as data;
* :mod:`~rawproto.exercises.workbook` — the stubs, generated from the above;
* :mod:`~rawproto.exercises.runner` and :mod:`~rawproto.exercises.check` —
  running the learner's code safely, and the report;
* :mod:`~rawproto.exercises.cli` — the command.
"""
