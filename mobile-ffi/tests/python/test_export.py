"""Exporting runs into a folder, as an app's "export my history" screen would: every format,
progress, cancel, files kept unless overwritten, and a clear error for what cannot be written."""

import asyncio
import csv
import os

import pytest

import strideguard as sg
from conftest import fixture, new_run


def test_export_runs_writes_a_folder_that_imports_back(app, tmp_path):
    watch = asyncio.run(app.import_file(fixture("activity-small-fenix2-run.fit")))
    app.add_run(new_run(day=1, km=5, minutes=28))

    class Progress(sg.ExportListener):
        def __init__(self):
            self.seen = []

        def on_run(self, done, total, run):
            self.seen.append((done, total, run.status))

    listener = Progress()
    out = tmp_path / "fit"
    summary = asyncio.run(app.export_runs([], sg.ExportFormat.FIT, str(out), listener=listener))
    assert (summary.written, summary.exists, summary.failed) == (2, 0, 0), summary
    assert listener.seen == [(1, 2, sg.ExportStatus.WRITTEN), (2, 2, sg.ExportStatus.WRITTEN)]
    assert all(os.path.getsize(f.path) == f.bytes for f in summary.files)

    other = sg.Strideguard.open(str(tmp_path / "other.db"))
    back = asyncio.run(other.import_files([str(out)]))
    assert back.imported == 2, back
    mine = [r for r in other.runs() if r.sample_count > 0][0]
    assert mine.start_unix_ms == watch.run.start_unix_ms
    assert mine.sample_count == watch.run.sample_count
    assert abs(mine.distance_meters - watch.run.distance_meters) < 0.01

    # Again: the files are kept; with overwrite they are written anew.
    again = asyncio.run(app.export_runs([watch.run.id[:8]], sg.ExportFormat.FIT, str(out)))
    assert again.files[0].status == sg.ExportStatus.EXISTS
    again = asyncio.run(app.export_runs([watch.run.id], sg.ExportFormat.FIT, str(out), overwrite=True))
    assert again.files[0].status == sg.ExportStatus.WRITTEN

    # CSV: the samples, and a summary of the runs.
    table = asyncio.run(app.export_runs([watch.run.id], sg.ExportFormat.CSV, str(tmp_path / "csv")))
    with open(table.files[0].path, newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == watch.run.sample_count
    samples = app.run(watch.run.id).samples
    assert [float(r["t_s"]) for r in rows] == samples.elapsed_seconds
    with open(table.index, newline="") as f:
        index = list(csv.DictReader(f))
    assert index[0]["run_id"] == watch.run.id


def test_what_cannot_be_exported_says_why(app, tmp_path):
    manual = app.add_run(new_run(day=1, km=5, minutes=28))
    gpx = asyncio.run(app.export_runs([manual.id], sg.ExportFormat.GPX, str(tmp_path / "gpx")))
    assert gpx.failed == 1 and "no GPS positions" in gpx.files[0].reason
    with pytest.raises(sg.StrideguardError.InvalidInput) as e:
        app.export_run(manual.id, sg.ActivityFormat.GPX)
    assert e.value.field == "format"
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(sg.StrideguardError.InvalidInput) as e:
        asyncio.run(app.export_runs([], sg.ExportFormat.TCX, str(blocker)))
    assert e.value.field == "folder" and "not a folder" in e.value.reason
    with pytest.raises(sg.StrideguardError.NotFound):
        asyncio.run(app.export_runs(["nope"], sg.ExportFormat.TCX, str(tmp_path / "x")))


def test_export_runs_stops_when_cancelled(app, tmp_path):
    for day in range(3):
        app.add_run(new_run(day=day, km=5, minutes=28))
    handle = sg.Cancellation()

    class CancelAfterOne(sg.ExportListener):
        def on_run(self, done, total, run):
            handle.cancel()

    summary = asyncio.run(
        app.export_runs([], sg.ExportFormat.TCX, str(tmp_path / "t"), listener=CancelAfterOne(), cancel=handle)
    )
    assert summary.cancelled and len(summary.files) == 1
