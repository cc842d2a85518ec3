"""A script may end right after its last `await`: the Rust thread that resumed the coroutine can
still be finishing its callback then, and CPython before 3.14 aborts the whole process if it is
(the exit guard appended by bindings.sh waits for it). Many short scripts run at once, so some
of them reach their exit while that thread waits for the CPU."""

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

from conftest import PATIENCE_S

SCRIPT = """
import asyncio, sys
import strideguard as sg
app = sg.Strideguard.open(sys.argv[1])
app.add_shoe(sg.NewShoe(name="Pegasus"))
async def main():
    try:
        await app.sync_now()
    except sg.StrideguardError.NotLinked:
        pass
    await app.import_files([])
asyncio.run(main())
print("done")
"""

RUNS = 24
AT_ONCE = 8


def test_a_script_that_ends_after_an_await_exits_cleanly(tmp_path):
    def one(i):
        return subprocess.run(
            [sys.executable, "-c", SCRIPT, str(tmp_path / f"{i}.db")],
            capture_output=True,
            text=True,
            timeout=PATIENCE_S,
            env=os.environ,
        )

    with ThreadPoolExecutor(AT_ONCE) as pool:
        results = list(pool.map(one, range(RUNS)))
    failed = [(r.returncode, r.stderr.strip()[-300:]) for r in results if r.returncode != 0]
    assert not failed, f"{len(failed)} of {RUNS} scripts failed at exit: {failed[:3]}"
    assert all(r.stdout.strip() == "done" for r in results)
