"""Benchmarks of tasktonic against its own pure twins, TaskTonic 0.2.4, asyncio and uvloop.

``python -m bench`` (or ``make bench``) runs every workload of issue 4 in one invocation and
prints one table. The implementation of tasktonic is chosen once, at import, so every
(implementation, workload, repetition) runs in its own subprocess (``python -m bench.worker``)
and the parent only collects JSON and prints.

Modules:

* ``plan``      -- the workloads, their sizes, their metrics and the issue's targets;
* ``workloads`` -- the framework workloads, written once for the API shared by tasktonic and
  TaskTonic 0.2.4 (the imported module is a parameter);
* ``aio``       -- the asyncio / uvloop equivalents;
* ``upstream``  -- installs TaskTonic 0.2.4 into ``bench/.upstream`` (never on the parent's path);
* ``worker``    -- one measurement in a fresh process;
* ``report``    -- the table, the targets and ``bench/RESULTS.md``.
"""
