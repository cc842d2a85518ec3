
# ---------------------------------------------------------------------------------------------
# Appended to the generated strideguard.py by mobile-ffi/bindings.sh (source:
# mobile-ffi/python/exit_guard.py).
#
# Why: CPython before 3.14 ends any thread that asks for the interpreter lock while the
# interpreter is finalizing, with pthread_exit. In a thread Rust started, that unwinding reaches
# Rust's panic guards and the whole process aborts ("FATAL: exception not rethrown", exit 134).
# Rust threads call into Python to resume an awaiting coroutine (the continuation callback) and
# to tell listeners; the continuation lets go of the lock while it wakes the event loop, so a
# script whose last `await` just returned can reach its exit while that thread still has a
# line of Python to run. At exit, wait (a few seconds at most) until no thread that Python did
# not start is running Python code.
import atexit as _uniffi_atexit
import sys as _uniffi_sys
import threading as _uniffi_threading
import time as _uniffi_time


def _uniffi_foreign_threads_in_python():
    """Threads running Python code that neither `threading` nor the main program started."""
    started = {
        t.ident
        for t in _uniffi_threading.enumerate()
        if not isinstance(t, _uniffi_threading._DummyThread)
    }
    return [ident for ident in _uniffi_sys._current_frames() if ident not in started]


@_uniffi_atexit.register
def _uniffi_wait_for_callbacks(timeout_seconds=5.0):
    deadline = _uniffi_time.monotonic() + timeout_seconds
    while _uniffi_foreign_threads_in_python() and _uniffi_time.monotonic() < deadline:
        _uniffi_time.sleep(0.001)
