"""Fake: never answers (the runner must report a timeout and kill the whole group).

It starts a child in its own process group first and writes the child's pid to
$FAKE_PIDFILE, so a self-test can check that the child was killed too.
"""

import os
import subprocess
import sys
import time

from _common import describe

describe("sleeper")
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
if os.environ.get("FAKE_PIDFILE"):
    with open(os.environ["FAKE_PIDFILE"], "w") as handle:
        handle.write(str(child.pid))
time.sleep(120)
