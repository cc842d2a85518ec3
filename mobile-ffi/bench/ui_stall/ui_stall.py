#!/usr/bin/env python3
"""UI-thread stalls while a sync runs, from the Python bindings.

    PYTHONPATH=target/bindings/python python3 ui_stall.py DEMO_DB SERVER_URL \
        [--kdf 100000] [--period-ms 16] [--baseline-s 5] [--json OUT.json]

DEMO_DB: a database written by `strideguard demo` (it is copied, never changed). SERVER_URL: the
sync server, normally through slow_proxy.py (run.sh starts both). For each UI mix, on the main
thread ("the UI thread") one tick every --period-ms:
  mix "runs":          runs()
  mix "report+coach":  report(None, 8), then CadenceCoach.feed(Reading) (the coach is its own
                       object: it shares no lock with the database, a control)
and records how long each call took, while nothing else runs ("baseline") and while a background
thread runs, each under its own asyncio.run() as an app would await them:
  upload:   a copy of DEMO_DB (unlinked from the demo's account) -> register(url, user, pass,
            "phone", kdf) then sync_now()   (the first sync uploads the whole history)
  download: a new empty database -> login(url, user, pass, "watch") then sync_now()
A call counts in the phase during which it started. Prints a table per mix (calls, median, p99,
worst, ms) and how long each background step took; --json writes every number.
"""

import argparse
import asyncio
import json
import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
import uuid

import strideguard as sg

PASS = "correct horse battery staple"


class Quiet(sg.CueListener):
    def __init__(self):
        self.cues = 0

    def on_cue(self, cue):
        self.cues += 1


def summary(ms):
    if not ms:
        return {"calls": 0, "median": None, "p99": None, "worst": None}
    s = sorted(ms)
    p99 = s[min(len(s) - 1, max(0, int(round(0.99 * len(s) + 0.5)) - 1))]
    return {"calls": len(s), "median": statistics.median(s), "p99": p99, "worst": s[-1]}


class Ui:
    """The UI thread's work: one tick per period, each call timed."""

    def __init__(self, app, mix, period_s):
        self.app, self.mix, self.period = app, mix, period_s
        self.coach = sg.CadenceCoach(170.0, Quiet())
        self.t = 0.0

    def calls(self):
        if self.mix == "runs":
            return [("runs", lambda: self.app.runs())]
        self.t += 1.0
        reading = sg.Reading(elapsed_seconds=self.t, cadence_spm=160.0 + (self.t % 7),
                             speed_mps=3.0, heart_rate_bpm=150)
        return [("report", lambda: self.app.report(None, 8)),
                ("coach.feed", lambda: self.coach.feed(reading))]

    def loop(self, phase_of, until):
        """Ticks until `until()`; returns {(phase, call): [ms, ...]}."""
        out = {}
        nxt = time.perf_counter()
        while not until():
            for name, f in self.calls():
                phase = phase_of()
                t0 = time.perf_counter_ns()
                f()
                out.setdefault((phase, name), []).append((time.perf_counter_ns() - t0) / 1e6)
            nxt += self.period
            delay = nxt - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            else:
                nxt = time.perf_counter()  # a stalled frame: do not try to catch up
        return out


class Background(threading.Thread):
    """Runs the async steps one after the other, each in its own asyncio.run(), timing each."""

    def __init__(self, steps):
        super().__init__(daemon=True)
        self.steps = steps
        self.phase = "starting"
        self.times = {}
        self.results = {}
        self.error = None
        self.done = threading.Event()

    def run(self):
        try:
            for name, make in self.steps:
                self.phase = name
                t0 = time.perf_counter()
                self.results[name] = asyncio.run(make())
                self.times[name] = time.perf_counter() - t0
        except Exception as e:  # noqa: BLE001 - reported, and the run fails
            self.error = e
        finally:
            self.phase = "after"
            self.done.set()


def fresh_copy(demo_db, tmp, name):
    path = os.path.join(tmp, name)
    shutil.copyfile(demo_db, path)
    app = sg.Strideguard.open(path)
    if app.account() is not None:
        # The demo synced with its own (now stopped) server: unlink, so that register is
        # allowed and the first sync uploads the whole history.
        asyncio.run(app.logout())
    return app


def during(app, mix, period, steps):
    bg = Background(steps)
    ui = Ui(app, mix, period)
    bg.start()
    samples = ui.loop(lambda: bg.phase, bg.done.is_set)
    bg.join()
    if bg.error is not None:
        raise bg.error
    return samples, bg


def db_facts(path):
    c = sqlite3.connect(path)
    count = lambda t: c.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0]  # noqa: E731
    facts = {"bytes": os.path.getsize(path), "runs": count("runs"),
             "run_samples": count("run_samples"), "shoes": count("shoes"),
             "changes": count("changes")}
    c.close()
    return facts


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("demo_db")
    ap.add_argument("server")
    ap.add_argument("--kdf", type=int, default=100_000, help="PBKDF2 iterations for register")
    ap.add_argument("--period-ms", type=float, default=16.0)
    ap.add_argument("--baseline-s", type=float, default=5.0)
    ap.add_argument("--mixes", default="runs,report+coach")
    ap.add_argument("--json")
    a = ap.parse_args()
    period = a.period_ms / 1000.0
    tmp = tempfile.mkdtemp(prefix="ui-stall-py-")
    results = {"lang": "python", "server": a.server, "kdf": a.kdf, "period_ms": a.period_ms,
               "db": db_facts(a.demo_db), "mixes": {}}
    print(f"python: demo database {a.demo_db}: {results['db']}")
    try:
        for mix in a.mixes.split(","):
            table = {}
            app = fresh_copy(a.demo_db, tmp, f"baseline-{len(results['mixes'])}.db")
            t_end = time.perf_counter() + a.baseline_s
            for (_, call), ms in Ui(app, mix, period).loop(
                    lambda: "baseline", lambda: time.perf_counter() > t_end).items():
                table[("baseline", call)] = ms
            del app

            user = f"py-{mix.replace('+', '-')}-{uuid.uuid4().hex[:8]}"
            phone = fresh_copy(a.demo_db, tmp, f"phone-{len(results['mixes'])}.db")
            up, bg_up = during(phone, mix, period, [
                ("register", lambda: phone.register(a.server, user, PASS, "phone", a.kdf)),
                ("sync (upload)", lambda: phone.sync_now()),
            ])
            watch = sg.Strideguard.open(os.path.join(tmp, f"watch-{len(results['mixes'])}.db"))
            down, bg_down = during(watch, mix, period, [
                ("login", lambda: watch.login(a.server, user, PASS, "watch")),
                ("sync (download)", lambda: watch.sync_now()),
            ])
            table.update(up)
            table.update(down)
            s_up, s_down = bg_up.results["sync (upload)"], bg_down.results["sync (download)"]
            assert s_down.downloaded == s_up.uploaded, (s_up, s_down)
            assert len(watch.runs()) == len(phone.runs())
            steps = {**bg_up.times, **bg_down.times}
            results["mixes"][mix] = {
                "steps_s": steps,
                "uploaded": s_up.uploaded, "downloaded": s_down.downloaded,
                "phases": {f"{p} | {c}": summary(ms) for (p, c), ms in table.items()},
            }
            print(f"\npython, UI mix '{mix}' (one tick every {a.period_ms:g} ms), user {user}")
            print("  background: " + ", ".join(f"{k} {v:.2f} s" for k, v in steps.items())
                  + f"; uploaded {s_up.uploaded} records, downloaded {s_down.downloaded}")
            print(f"  {'phase':<17} {'call':<11} {'calls':>6} {'median ms':>10} {'p99 ms':>9} "
                  f"{'worst ms':>9}")
            order = ["baseline", "register", "sync (upload)", "login", "sync (download)", "after"]
            for (p, c), ms in sorted(table.items(), key=lambda kv: (
                    order.index(kv[0][0]) if kv[0][0] in order else 99, kv[0][1])):
                s = summary(ms)
                print(f"  {p:<17} {c:<11} {s['calls']:>6} {s['median']:>10.3f} {s['p99']:>9.2f} "
                      f"{s['worst']:>9.1f}")
        if a.json:
            with open(a.json, "w") as f:
                json.dump(results, f, indent=1)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
