"""Runs, shoes, the profile and its thresholds, import and export, through the bindings."""

import asyncio
import os

import pytest

import strideguard as sg
from conftest import DAY_MS, FIXTURES, MONDAY_MS, FixedClock, fixture, new_run


def test_version_and_a_fresh_database(app):
    assert sg.version().count(".") == 2
    assert app.runs() == []
    assert app.run_count() == 0
    assert app.shoes() == []
    p = app.profile()
    assert p.time_zone == "Europe/Berlin", "a new database starts in the zone it was given"
    assert p.fixed_cadence_spm is None
    assert app.account() is None


def test_a_file_that_is_not_a_database_is_refused_and_kept(tmp_path):
    notes = tmp_path / "notes.db"
    notes.write_bytes(b"my training notes, not a database" * 100)
    with pytest.raises(sg.StrideguardError.Store) as e:
        sg.Strideguard.open(str(notes))
    assert "not a SQLite database" in e.value.reason
    assert notes.read_bytes().startswith(b"my training notes")
    with pytest.raises(sg.StrideguardError.InvalidInput) as e:
        sg.Strideguard.open(str(tmp_path / "x.db"), time_zone="Mars/Olympus")
    assert e.value.field == "time_zone" and "Mars/Olympus" in e.value.reason


def test_runs_go_on_the_default_shoe_and_edits_keep_the_rest(app):
    shoe = app.add_shoe(sg.NewShoe(name="Pegasus", brand="Nike"))
    assert shoe.is_default, "the first shoe becomes the default"
    assert shoe.wear == sg.ShoeWear.OK
    assert round(shoe.wear_at_meters) == 482803 and round(shoe.replace_at_meters) == 804672
    run = app.add_run(new_run(0, 10, 55, rpe=4, notes="river"))
    assert run.shoe_id == shoe.id
    assert (run.kind, run.rpe, run.source) == (sg.RunKind.EASY, 4, sg.RunSource.MANUAL)
    assert run.start_unix_ms == MONDAY_MS and run.utc_offset_seconds == 3600
    edited = app.edit_run(run.id, kind=sg.RunKind.TEMPO, rpe=7, notes="")
    assert (edited.kind, edited.rpe, edited.notes) == (sg.RunKind.TEMPO, 7, None)
    cleared = app.edit_run(run.id[:8], clear_rpe=True)
    assert cleared.rpe is None and cleared.kind == sg.RunKind.TEMPO
    # Without an offset, the run takes the profile's zone at its start (Berlin, summer).
    summer = app.add_run(sg.NewRun(start_unix_ms=MONDAY_MS + DAY_MS, distance_meters=5000.0, duration_seconds=1500.0))
    assert summer.utc_offset_seconds == 7200 and summer.kind == sg.RunKind.UNKNOWN
    [s] = app.shoes()
    assert (s.distance_meters, s.run_count) == (15_000.0, 2)
    app.delete_run(run.id)
    assert [r.id for r in app.runs()] == [summer.id]

    with pytest.raises(sg.StrideguardError.NotFound) as e:
        app.edit_run("not-an-id")
    assert e.value.what == "run" and e.value.key == "not-an-id"
    with pytest.raises(sg.StrideguardError.InvalidInput) as e:
        app.add_run(new_run(0, 5, 30, rpe=11))
    assert (e.value.field, e.value.reason) == ("rpe", "RPE: 11 is outside 0-10")
    with pytest.raises(sg.StrideguardError.InvalidInput) as e:
        app.add_run(new_run(0, -5, 30))
    assert e.value.field == "distance_meters" and "negative" in e.value.reason
    too_quick = new_run(0, 5, 30)
    too_quick.avg_cadence_spm = 400.0
    with pytest.raises(sg.StrideguardError.InvalidInput) as e:
        app.add_run(too_quick)
    assert (e.value.field, e.value.reason) == ("avg_cadence_spm", "cadence: 400 steps/min is outside 60-260 steps/min")
    with pytest.raises(sg.StrideguardError.InvalidInput):
        app.edit_run(summer.id, rpe=5, clear_rpe=True)


def test_shoes_edit_retire_default_assign_delete(app):
    first = app.add_shoe(sg.NewShoe(name="Pegasus"))
    second = app.add_shoe(sg.NewShoe(name="Clifton", start_distance_meters=400_000.0, wear_at_meters=300_000.0, replace_at_meters=500_000.0))
    assert not second.is_default
    assert second.wear == sg.ShoeWear.CHECK_WEAR, "past its own wear mark"
    with pytest.raises(sg.StrideguardError.InvalidInput) as e:
        app.add_shoe(sg.NewShoe(name="pegasus"))
    assert e.value.field == "name" and "already exists" in e.value.reason
    edited = app.edit_shoe("clifton", sg.ShoeChanges(replace_at_meters=390_000.0, wear_at_meters=200_000.0, brand="Hoka"))
    assert (edited.wear, edited.brand) == (sg.ShoeWear.REPLACE, "Hoka")
    assert app.edit_shoe(second.id, sg.ShoeChanges(brand="")).brand is None
    with pytest.raises(sg.StrideguardError.InvalidInput) as e:
        app.edit_shoe(second.id, sg.ShoeChanges(wear_at_meters=600_000.0))
    assert e.value.field == "wear_at_meters"
    assert app.set_default_shoe("Clifton").is_default
    assert [s.name for s in app.shoes() if s.is_default] == ["Clifton"]
    run = app.add_run(new_run(0, 8, 45))
    assert run.shoe_id == second.id
    assert app.assign_shoe(run.id, first.id).shoe_id == first.id
    assert app.assign_shoe(run.id).shoe_id is None
    app.assign_shoe(run.id, "Pegasus")
    retired = app.retire_shoe("Pegasus")
    assert retired.retired and retired.wear == sg.ShoeWear.RETIRED
    with pytest.raises(sg.StrideguardError.InvalidInput) as e:
        app.add_run(new_run(1, 5, 30, shoe="Pegasus"))
    assert e.value.field == "shoe" and "retired" in e.value.reason
    app.delete_shoe("Pegasus")
    assert [s.name for s in app.shoes()] == ["Clifton"]
    assert app.runs()[0].shoe_id is None, "its runs stay, on no shoe"
    with pytest.raises(sg.StrideguardError.NotFound) as e:
        app.delete_shoe("Pegasus")
    assert e.value.what == "shoe"


def test_profile_and_thresholds(app):
    p = app.profile()
    p.units = sg.Units.MI
    p.time_zone = "America/New_York"
    p.fixed_cadence_spm = 172.0
    p.max_heart_rate_bpm = 190
    back = app.set_profile(p)
    assert (back.units, back.time_zone, back.fixed_cadence_spm, back.max_heart_rate_bpm) == (sg.Units.MI, "America/New_York", 172.0, 190)
    p.time_zone = "Mars/Olympus"
    with pytest.raises(sg.StrideguardError.InvalidInput) as e:
        app.set_profile(p)
    assert e.value.field == "time_zone" and "Mars/Olympus" in e.value.reason
    p.time_zone = "UTC"
    p.max_heart_rate_bpm = 300
    with pytest.raises(sg.StrideguardError.InvalidInput) as e:
        app.set_profile(p)
    assert (e.value.field, e.value.reason) == ("max_heart_rate_bpm", "max heart rate: 300 bpm is outside 100-240 bpm")
    p.max_heart_rate_bpm = 190
    p.fixed_cadence_spm = 90.0
    with pytest.raises(sg.StrideguardError.InvalidInput) as e:
        app.set_profile(p)
    assert e.value.reason == "target cadence: 90 steps/min is outside 100-240 steps/min"
    assert e.value.field == "fixed_cadence_spm"
    assert app.profile().time_zone == "America/New_York", "nothing changed"

    names = {t.name: t for t in app.thresholds()}
    assert names["weekly_increase_pct"].value == 10.0 == names["weekly_increase_pct"].default_value
    assert "acwr_danger_above" in names
    changed = {t.name: t.value for t in app.set_threshold("weekly_increase_pct", 8.0)}
    assert changed["weekly_increase_pct"] == 8.0
    with pytest.raises(sg.StrideguardError.InvalidInput) as e:
        app.set_threshold("ten_percent", 10.0)
    assert "unknown threshold 'ten_percent'" in e.value.reason and e.value.field == "name"
    with pytest.raises(sg.StrideguardError.InvalidInput) as e:
        app.set_threshold("base_weeks", 2.5)
    assert e.value.field == "value" and "whole number" in e.value.reason
    with pytest.raises(sg.StrideguardError.InvalidInput) as e:
        app.set_threshold("nope", -1.0)
    assert e.value.field == "name", "the name is checked first" 
    assert {t.name: t.value for t in app.reset_thresholds()}["weekly_increase_pct"] == 10.0


def test_runs_paged_and_one_run_with_samples_for_a_chart(app):
    for d in range(7):
        app.add_run(new_run(d, 5 + d, 30))
    page = app.runs_page(limit=3)
    assert page.total == 7
    assert [round(r.distance_meters) for r in page.runs] == [11000, 10000, 9000], "newest first"
    page2 = app.runs_page(offset=6, limit=3)
    assert [round(r.distance_meters) for r in page2.runs] == [5000]
    for bad, field in [({"limit": 0}, "limit"), ({"limit": 10_001}, "limit"), ({"limit": -1}, "limit"), ({"offset": -1}, "offset")]:
        with pytest.raises(sg.StrideguardError.InvalidInput) as e:
            app.runs_page(**bad)
        assert e.value.field == field, (bad, e.value.field)
    out = asyncio.run(app.import_file(fixture("garmin-fenix-5-run.fit")))
    detail = app.run(out.run.id)
    s = detail.samples
    assert detail.run.sample_count == len(s.elapsed_seconds) > 10
    assert all(len(col) == len(s.elapsed_seconds) for col in (s.heart_rate_bpm, s.cadence_spm, s.speed_mps, s.latitude_degrees))
    assert s.elapsed_seconds == sorted(s.elapsed_seconds)
    assert any(h is not None for h in s.heart_rate_bpm)


def test_import_a_file_its_bytes_and_a_folder_with_progress(app, tmp_path):
    fit = fixture("garmin-fenix-5-run.fit")
    out = asyncio.run(app.import_file(fit))
    assert out.status == sg.ImportStatus.IMPORTED and out.run.source == sg.RunSource.FIT
    again = asyncio.run(app.import_file(fit))
    assert (again.status, again.duplicate_of, again.duplicate_reason) == (sg.ImportStatus.DUPLICATE, out.run.id, sg.DuplicateReason.SAME_FILE)
    with pytest.raises(sg.StrideguardError.Import) as e:
        asyncio.run(app.import_file(fixture("activity-unexpected-eof.fit")))
    assert e.value.path.endswith("activity-unexpected-eof.fit")
    assert "activity-unexpected-eof.fit" in e.value.reason
    with pytest.raises(sg.StrideguardError.Import) as e:
        asyncio.run(app.import_file(fixture("activity-filecrc.fit")))
    assert "checksum does not match" in e.value.reason and "CRC" not in e.value.reason
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(sg.StrideguardError.Import):
        asyncio.run(app.import_file(str(text)))
    with pytest.raises(sg.StrideguardError.Import) as e:
        asyncio.run(app.import_file(str(tmp_path / "gone.fit")))
    assert e.value.reason.endswith("gone.fit: cannot read the file: it does not exist"), e.value.reason
    # Bytes with a format hint: a GPX export from another app is the same activity as the FIT
    # (a 9 km run: GPX has no distances, and over 157 m the positions differ by more than 2%).
    long = asyncio.run(app.import_file(fixture("activity-small-fenix2-run.fit")))
    gpx = app.export_run(long.run.id, sg.ActivityFormat.GPX)
    assert gpx.startswith(b"<?xml") and b"<gpx" in gpx[:400]
    same = asyncio.run(app.import_bytes(gpx, sg.ActivityFormat.GPX, name="from-another-app.gpx"))
    assert (same.status, same.duplicate_reason) == (sg.ImportStatus.DUPLICATE, sg.DuplicateReason.SAME_ACTIVITY)
    with pytest.raises(sg.StrideguardError.Import) as e:
        asyncio.run(app.import_bytes(b"not xml at all", sg.ActivityFormat.TCX, name="broken.tcx"))
    assert e.value.path == "broken.tcx"
    bike = asyncio.run(app.import_bytes(open(fixture("garmin-fenix-5-bike.fit"), "rb").read(), sg.ActivityFormat.FIT))
    assert bike.status == sg.ImportStatus.SKIPPED and "cycling" in bike.reason
    assert app.run_count() == 2
    assert out.note is None, "the FIT says it is a run"
    # The same run from an app that writes no sport: judged from its cadence, and said so.
    app.delete_run(long.run.id)
    untyped = asyncio.run(app.import_bytes(gpx.replace(b"<type>running</type>", b""), sg.ActivityFormat.GPX))
    assert untyped.status == sg.ImportStatus.IMPORTED, untyped
    assert untyped.note.startswith("no sport in the file"), untyped.note

    class Progress(sg.ImportListener):
        def __init__(self):
            self.seen = []

        def on_file(self, p):
            self.seen.append((p.done, p.total, p.file.status))

    listener = Progress()
    summary = asyncio.run(app.import_files([FIXTURES], listener))
    assert summary.imported == 2 and summary.failed == 2, summary
    assert summary.duplicates == 2 and summary.skipped == 2 and not summary.cancelled
    assert [d for d, _, _ in listener.seen] == list(range(1, len(summary.files) + 1))
    assert all(t == len(summary.files) for _, t, _ in listener.seen)
    failed = [f for f in summary.files if f.status == sg.ImportStatus.FAILED]
    assert {os.path.basename(f.path) for f in failed} == {"activity-unexpected-eof.fit", "activity-filecrc.fit"}

    class Throws(sg.ImportListener):
        def on_file(self, p):
            raise RuntimeError("the app's list view crashed")

    again = asyncio.run(app.import_files([FIXTURES], Throws()))
    assert again.imported == 0 and again.listener_errors == len(again.files), "counted, the import went on"


def test_import_files_stops_when_cancelled(app):
    handle = sg.Cancellation()

    class CancelAfterOne(sg.ImportListener):
        def on_file(self, p):
            handle.cancel()

    summary = asyncio.run(app.import_files([FIXTURES], CancelAfterOne(), handle))
    assert summary.cancelled and len(summary.files) == 1
    assert handle.is_cancelled()


def test_every_run_exports_to_each_format_and_imports_back_as_the_same_activity(app, tmp_path):
    out = asyncio.run(app.import_file(fixture("activity-small-fenix2-run.fit")))
    for fmt in (sg.ActivityFormat.FIT, sg.ActivityFormat.GPX, sg.ActivityFormat.TCX):
        other = sg.Strideguard.open(str(tmp_path / f"{fmt.name}.db"))
        back = asyncio.run(other.import_bytes(app.export_run(out.run.id, fmt), fmt))
        assert back.status == sg.ImportStatus.IMPORTED, fmt
        assert abs(back.run.distance_meters - out.run.distance_meters) < 0.01 * out.run.distance_meters
        assert back.run.start_unix_ms // 1000 == out.run.start_unix_ms // 1000


def test_the_apps_clock_decides_now_and_a_throwing_clock_is_survived(tmp_path):
    clock = FixedClock(MONDAY_MS)
    app = sg.Strideguard.open(str(tmp_path / "c.db"), time_zone="UTC", clock=clock)
    assert app.now_ms() == MONDAY_MS and app.today() == "2026-05-04"
    clock.now += 3 * DAY_MS
    assert app.today() == "2026-05-07"
    assert app.plan().today == "2026-05-07"

    class Broken(sg.WallClock):
        def now_ms(self):
            raise OSError("no clock here")

    broken = sg.Strideguard.open(str(tmp_path / "b.db"), clock=Broken())
    assert broken.now_ms() > MONDAY_MS, "the system's time instead"
    assert broken.clock_errors() >= 1


def test_import_files_reads_a_strava_zip_and_a_garmin_export_with_byte_progress(app, tmp_path):
    import gzip
    import io
    import zipfile

    run = open(fixture("garmin-fenix-5-run.fit"), "rb").read()
    bike = open(fixture("garmin-fenix-5-bike.fit"), "rb").read()
    csv = (
        "Activity ID,Activity Date,Activity Name,Activity Type,Activity Description,Distance,"
        "Activity Gear,Filename,Distance,Perceived Exertion\n"
        '1,"Jun 1, 2017, 6:00:00 AM","Morning, easy",Run,,5.0,Pegasus 40,activities/1.fit.gz,5000.0,7\n'
        '2,"Jun 2, 2017, 6:00:00 AM",Commute,Ride,,9.0,Canyon,activities/2.fit.gz,9000.0,\n'
    )
    strava = tmp_path / "export_1.zip"
    with zipfile.ZipFile(strava, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("activities.csv", csv)
        z.writestr("activities/1.fit.gz", gzip.compress(run))
        z.writestr("activities/2.fit.gz", gzip.compress(bike))
        z.writestr("activities/3.fit.gz", gzip.compress(b"no FIT at all"))

    class Progress(sg.ImportListener):
        def __init__(self):
            self.seen = []

        def on_file(self, p):
            self.seen.append((p.bytes_done, p.bytes_total))

    listener = Progress()
    summary = asyncio.run(app.import_files([str(strava)], listener))
    assert (summary.imported, summary.skipped, summary.failed) == (1, 1, 1), summary
    total = os.path.getsize(strava)
    assert all(t == total for _, t in listener.seen)
    assert [d for d, _ in listener.seen] == sorted(d for d, _ in listener.seen)
    imported = next(f for f in summary.files if f.status == sg.ImportStatus.IMPORTED)
    assert imported.path.endswith("export_1.zip!activities/1.fit.gz")
    assert imported.run.notes == "Morning, easy" and imported.run.rpe == 7
    (shoe,) = app.shoes()
    assert shoe.name == "Pegasus 40" and imported.run.shoe_id == shoe.id
    assert shoe.distance_meters == imported.run.distance_meters
    broken = next(f for f in summary.files if f.status == sg.ImportStatus.FAILED)
    assert broken.path.endswith("export_1.zip!activities/3.fit.gz") and "FIT" in broken.reason

    # The same run in Garmin's layout (a part zip in the export zip) is the same file.
    part = io.BytesIO()
    with zipfile.ZipFile(part, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("runner@example.com_1.fit", run)
    garmin = tmp_path / "garmin.zip"
    with zipfile.ZipFile(garmin, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("DI_CONNECT/DI-Connect-Uploaded-Files/UploadedFiles_0-_Part1.zip", part.getvalue())
    again = asyncio.run(app.import_files([str(garmin)]))
    assert (again.imported, again.duplicates) == (0, 1), again
    assert again.files[0].duplicate_reason == sg.DuplicateReason.SAME_FILE
    assert app.run_count() == 1
