"""Test-only stand-in for a network share that stalls: loaded by a daemon process started
with this folder first on PYTHONPATH (Python imports ``sitecustomize`` at start-up).

``KOKORO_TEST_EIO=<name>:<count>`` makes the first <count> ``stat`` calls (``os.stat``,
``os.lstat``, and so ``Path.stat``, ``Path.is_file`` ...) that the daemon's intake makes on
an entry whose name contains <name> fail with EIO, as a cifs or FUSE mount does while its
server is away.  Nothing else changes.
"""

import errno
import os
import sys

_spec = os.environ.get("KOKORO_TEST_EIO", "")
if _spec:
    _name, _, _count = _spec.rpartition(":")
    _left = [int(_count)]
    def _failing(real):
        def call(path, *args, **kwargs):
            if _left[0] > 0 and not isinstance(path, int) and _name in os.fsdecode(os.fspath(path)) \
                    and _from_intake():
                _left[0] -= 1
                raise OSError(errno.EIO, "Input/output error", os.fspath(path))
            return real(path, *args, **kwargs)
        return call

    def _from_intake() -> bool:
        frame = sys._getframe(2)
        for _ in range(6):
            if frame is None:
                return False
            if frame.f_code.co_filename.endswith(os.path.join("daemon", "service", "intake.py")):
                return True
            frame = frame.f_back
        return False

    os.stat, os.lstat = _failing(os.stat), _failing(os.lstat)
