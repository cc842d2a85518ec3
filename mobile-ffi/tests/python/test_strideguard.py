"""The generated Python bindings, loaded over the built library, as an app would call them.

Run by `cargo test -p strideguard-ffi` (mobile-ffi/tests/bindings.rs), which generates the
bindings, starts a sync server on 127.0.0.1 and sets STRIDEGUARD_TEST_SERVER and
STRIDEGUARD_FIXTURES.
"""

import asyncio
import os
import threading
import uuid

import pytest

import strideguard as sg

SERVER = os.environ["STRIDEGUARD_TEST_SERVER"]
FIXTURES = os.environ["STRIDEGUARD_FIXTURES"]
PASS = "correct horse battery staple"
DAY_MS = 86_400_000
# 2026-05-04, a Monday, 07:00 UTC.
MONDAY_MS = 1_777_878_000_000


@pytest.fixture
def app(tmp_path):
    return sg.Strideguard.open(str(tmp_path / "phone.db"))


def new_run(day, km, minutes, kind=sg.RunKind.EASY, rpe=None, notes=None, shoe=None):
    return sg.NewRun(
        start_unix_ms=MONDAY_MS + day * DAY_MS,
        utc_offset_s=3600,
        distance_m=km * 1000.0,
        duration_s=minutes * 60.0,
        kind=kind,
        rpe=rpe,
        shoe_id=shoe,
        notes=notes,
    )


def test_version_and_a_fresh_database(app):
    assert sg.version().count(".") == 2
    assert app.runs() == []
    assert app.run_count() == 0
    assert app.shoes() == []
    p = app.profile()
    assert p.units in (sg.Units.KM, sg.Units.MI)
    assert p.fixed_cadence_spm is None
    assert app.account() is None
    assert app.plan() is None


def test_a_file_that_is_not_a_database_is_refused_and_kept(tmp_path):
    notes = tmp_path / "notes.db"
    notes.write_bytes(b"my training notes, not a database" * 100)
    with pytest.raises(sg.StrideguardError.Store) as e:
        sg.Strideguard.open(str(notes))
    assert "not a SQLite database" in str(e.value)
    assert notes.read_bytes().startswith(b"my training notes")


def test_runs_and_shoes(app):
    shoe = app.add_shoe("Pegasus", "Nike", False)
    assert shoe.is_default, "the first shoe becomes the default"
    run = app.add_run(new_run(0, 10, 55, rpe=4, notes="river"))
    assert run.shoe_id == shoe.id
    assert run.kind == sg.RunKind.EASY
    assert run.start_unix_ms == MONDAY_MS and run.utc_offset_s == 3600
    edited = app.edit_run(run.id, sg.RunKind.TEMPO, 7, "")
    assert (edited.kind, edited.rpe, edited.notes) == (sg.RunKind.TEMPO, 7, None)
    [s] = app.shoes()
    assert (s.distance_m, s.run_count) == (10_000.0, 1)
    app.delete_run(run.id)
    assert app.runs() == []
    assert app.shoes()[0].distance_m == 0.0

    with pytest.raises(sg.StrideguardError.InvalidInput) as e:
        app.edit_run("not-an-id", None, None, None)
    assert "not-an-id" in str(e.value)
    with pytest.raises(sg.StrideguardError.NotFound):
        app.delete_run(str(uuid.uuid4()))
    with pytest.raises(sg.StrideguardError.InvalidInput) as e:
        app.add_shoe("pegasus", None, False)
    assert "already exists" in str(e.value)
    with pytest.raises(sg.StrideguardError.InvalidInput):
        app.add_run(new_run(0, -5, 30))


def test_profile(app):
    p = app.profile()
    p.units = sg.Units.MI
    p.time_zone = "America/New_York"
    p.fixed_cadence_spm = 172.0
    p.max_hr_bpm = 190
    app.set_profile(p)
    back = app.profile()
    assert back.units == sg.Units.MI
    assert back.time_zone == "America/New_York"
    assert back.fixed_cadence_spm == 172.0
    assert back.max_hr_bpm == 190
    p.time_zone = "Mars/Olympus"
    with pytest.raises(sg.StrideguardError.InvalidInput) as e:
        app.set_profile(p)
    assert "Mars/Olympus" in str(e.value)
    assert app.profile().time_zone == "America/New_York", "nothing changed"


def test_import_a_real_watch_file_once(app, tmp_path):
    fit = os.path.join(FIXTURES, "garmin-fenix-5-run.fit")
    out = asyncio.run(app.import_file(fit))
    assert out.imported is not None and out.duplicate_of is None
    assert out.imported.source == "fit"
    assert out.imported.distance_m > 100
    again = asyncio.run(app.import_file(fit))
    assert again.imported is None
    assert again.duplicate_of == out.imported.id
    assert "same file" in again.reason
    with pytest.raises(sg.StrideguardError.Import) as e:
        asyncio.run(app.import_file(os.path.join(FIXTURES, "activity-unexpected-eof.fit")))
    assert "activity-unexpected-eof.fit" in str(e.value)
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(sg.StrideguardError.Import):
        asyncio.run(app.import_file(str(text)))
    assert app.run_count() == 1


def test_report_is_records_and_enums(app):
    app.add_shoe("Clifton", None, True)
    # Four weeks of 30 km, then a week of 45 km: the 10% rule fires.
    for week in range(5):
        km = 45 if week == 4 else 30
        for d, share in ((0, 0.3), (2, 0.3), (5, 0.4)):
            app.add_run(new_run(week * 7 + d, km * share, km * share * 6, rpe=4))
    r = app.report("2026-06-07", 5)
    assert r.as_of == "2026-06-07"
    assert len(r.weeks) == 5
    assert round(r.this_week.distance_m) == 45_000
    assert round(r.last_week.distance_m) == 30_000
    kinds = [w.kind for w in r.warnings]
    assert sg.WarningKind.WEEKLY_INCREASE in kinds, kinds
    weekly = next(w for w in r.warnings if w.kind == sg.WarningKind.WEEKLY_INCREASE)
    assert weekly.severity in (sg.Severity.CAUTION, sg.Severity.HIGH)
    assert round(weekly.numbers["distance_change_pct"]) == 50
    assert isinstance(r.acwr.zone, sg.AcwrZone)
    assert r.shoes[0].state == sg.ShoeState.OK
    assert app.report_native_ns("2026-06-07", 5, 3) > 0
    with pytest.raises(sg.StrideguardError.InvalidInput):
        app.report("June", 5)
    with pytest.raises(sg.StrideguardError.InvalidInput):
        app.report(None, 0)


def answers(**over):
    a = dict(
        location="achilles",
        side="right",
        severity=3,
        character=["stiffness"],
        timing=["morning"],
        aggravators=["uphill"],
        swelling=False,
        red_flags=[],
        onset="2026-06-01T07:00:00+01:00",
        improving=None,
    )
    a.update(over)
    return sg.PainAnswers(**a)


def test_pain_triage_and_plan(app):
    assert app.triage(None) is None
    app.log_pain(answers())
    [entry] = app.pain_entries()
    assert (entry.location, entry.side, entry.severity) == ("achilles", "right", 3)
    t = app.triage("2026-06-05T08:00:00+01:00")
    assert t.urgency == sg.Urgency.BOOK_PHYSIO or t.urgency == sg.Urgency.SELF_CARE
    assert t.likely == "achilles_tendinopathy"
    assert t.patterns[0].id == "achilles_tendinopathy"
    assert t.plan == "achilles_tendinopathy"
    assert "not a diagnosis" in t.disclaimer.lower() or len(t.disclaimer) > 40
    plan = app.plan()
    assert plan.plan_for == "achilles_tendinopathy"
    assert len(plan.exercises) >= 3
    first = plan.exercises[0].id
    today = __import__("datetime").date.today().isoformat()
    assert app.tick_exercise(first, today) is True
    assert app.tick_exercise(first, today) is False
    assert [e.done_today for e in app.plan().exercises].count(True) == 1
    with pytest.raises(sg.StrideguardError.NotFound):
        app.tick_exercise("juggling", today)

    app.log_pain(answers(red_flags=["cannot_bear_weight"], severity=8))
    urgent = app.triage(None)
    assert urgent.urgency == sg.Urgency.SEE_PROFESSIONAL_NOW
    assert urgent.red_flags == ["cannot_bear_weight"]
    assert urgent.plan is None

    with pytest.raises(sg.StrideguardError.InvalidInput) as e:
        app.log_pain(answers(location="elbow"))
    assert "location" in str(e.value) and "elbow" in str(e.value)
    with pytest.raises(sg.StrideguardError.InvalidInput) as e:
        app.log_pain(answers(severity=11))
    assert "severity" in str(e.value)
    assert len(app.pain_entries()) == 2


class Collect(sg.CueListener):
    def __init__(self):
        self.cues = []
        self.threads = set()

    def on_cue(self, cue):
        self.cues.append(cue)
        self.threads.add(threading.get_ident())


def run_low_cadence(coach, start_s=0):
    """Fifteen minutes at running speed: on target, then slipping to 158."""
    for t in range(start_s, start_s + 900):
        cadence = 170.0 if t < 300 else 158.0
        coach.feed(sg.Reading(t_s=float(t), cadence_spm=cadence, speed_mps=3.0, hr_bpm=150))


def test_cues_reach_the_listener_in_order_from_any_thread():
    listener = Collect()
    coach = sg.CadenceCoach(170.0, listener)
    run_low_cadence(coach)
    kinds = [c.kind for c in listener.cues]
    assert sg.CueKind.QUICKEN in kinds
    assert all(c.target_spm == 170.0 for c in listener.cues)
    times = [c.t_s for c in listener.cues]
    assert times == sorted(times)
    assert listener.cues[0].text == "Quicken your steps"
    assert 155 < coach.smoothed_spm() < 161
    assert coach.metronome_bpm() == 170.0
    # The sensor goes quiet: the coach says so once.
    assert coach.tick(910.0) == 1
    assert listener.cues[-1].kind == sg.CueKind.SENSOR_LOST

    # Fed from a sensor thread, as BLE callbacks arrive.
    other = Collect()
    coach2 = sg.CadenceCoach(170.0, other)
    worker = threading.Thread(target=run_low_cadence, args=(coach2,))
    worker.start()
    worker.join()
    assert [c.kind for c in other.cues] == [c.kind for c in listener.cues[:-1]]
    assert other.threads == {worker.ident}

    with pytest.raises(sg.StrideguardError.InvalidInput):
        sg.CadenceCoach(20.0, Collect())


def test_sync_between_two_apps(tmp_path):
    user = "py-" + uuid.uuid4().hex[:8]
    phone = sg.Strideguard.open(str(tmp_path / "phone.db"))
    phone.add_shoe("Pegasus", None, True)
    phone.add_run(new_run(0, 8, 45, notes="synced from python"))
    with pytest.raises(sg.StrideguardError.Sync) as e:
        asyncio.run(phone.sync_now())
    assert "not linked" in str(e.value)
    acct = asyncio.run(phone.register(SERVER, user, PASS, "phone", 1000))
    assert acct.username == user and acct.server == SERVER
    up = asyncio.run(phone.sync_now())
    assert up.uploaded >= 2 and up.rejected == []

    watch = sg.Strideguard.open(str(tmp_path / "watch.db"))
    with pytest.raises(sg.StrideguardError.WrongPassphrase):
        asyncio.run(watch.login(SERVER, user, "wrong passphrase", "watch"))

    async def both():
        await watch.login(SERVER, user, PASS, "watch")
        return await watch.sync_now()

    down = asyncio.run(both())
    assert down.downloaded == up.uploaded
    assert [r.notes for r in watch.runs()] == ["synced from python"]
    assert watch.runs()[0].id == phone.runs()[0].id
    devices = asyncio.run(phone.devices())
    assert sorted(d.name for d in devices) == ["phone", "watch"]
    watch_id = next(d.id for d in devices if not d.current)
    asyncio.run(phone.revoke_device(watch_id))
    with pytest.raises(sg.StrideguardError.Unauthorized) as e:
        asyncio.run(watch.sync_now())
    assert "log in again" in str(e.value)
    asyncio.run(watch.logout())
    assert watch.account() is None
    assert len(watch.runs()) == 1, "the data stays"


def test_swift_bindings_match_the_library():
    """What Swift checks when it loads the library: the contract version and every API
    checksum written into StrideguardFFI.swift must be the library's."""
    import ctypes
    import re

    swift_dir = os.environ["STRIDEGUARD_SWIFT_DIR"]
    swift = open(os.path.join(swift_dir, "StrideguardFFI.swift")).read()
    lib = ctypes.CDLL(os.path.join(os.path.dirname(sg.__file__), "libstrideguard_ffi.so"))
    checks = re.findall(r"(uniffi_strideguard_ffi_checksum_\w+)\(\) != (\d+)", swift)
    assert len(checks) > 20
    for name, expected in checks:
        f = getattr(lib, name)
        f.restype = ctypes.c_uint16
        assert f() == int(expected), name
    contract = lib.ffi_strideguard_ffi_uniffi_contract_version
    contract.restype = ctypes.c_uint32
    expected = re.search(r"let bindings_contract_version = (\d+)", swift)
    assert expected and contract() == int(expected.group(1))
