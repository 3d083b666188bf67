"""Drives `flowc run` at a real terminal (a pseudo-terminal), as a person would.

usage: drive.py FLOWC ARGS... -- KEYS...

Each KEYS item is typed after the next `you> ` prompt appears (Python escapes such as \\x1b[D and
\\x04 are read). Prints everything the terminal showed, then `exit: N`.
"""
import os
import pty
import select
import sys
import time

sep = sys.argv.index("--")
cmd, keys = sys.argv[1:sep], [k.encode().decode("unicode_escape").encode() for k in sys.argv[sep + 1 :]]
pid, fd = pty.fork()
if pid == 0:
    os.environ["NO_COLOR"] = "1"
    os.execv(cmd[0], cmd)
shown = b""
deadline = time.time() + 20


def read_some(timeout):
    global shown
    ready, _, _ = select.select([fd], [], [], timeout)
    if not ready:
        return False
    try:
        data = os.read(fd, 4096)
    except OSError:
        return None
    if not data:
        return None
    shown += data
    return True


for key in keys:
    prompts = shown.count(b"you> ")
    while shown.count(b"you> ") == prompts and time.time() < deadline:
        if read_some(0.1) is None:
            break
    time.sleep(0.05)
    os.write(fd, key)
while time.time() < deadline:
    if read_some(0.1) is None:
        break
_, status = os.waitpid(pid, 0)
sys.stdout.write(shown.decode("utf-8", "replace"))
sys.stdout.write("\nexit: %d\n" % os.waitstatus_to_exitcode(status))
