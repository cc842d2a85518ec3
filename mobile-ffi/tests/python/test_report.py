"""The training report as records and enums, and as an HTML page."""

import pytest

import strideguard as sg
from conftest import new_run


def five_weeks(app):
    app.add_shoe(sg.NewShoe(name="Clifton", make_default=True))
    # Four weeks of 30 km, then a week of 45 km: the 10% rule fires.
    for week in range(5):
        km = 45 if week == 4 else 30
        for d, share in ((0, 0.3), (2, 0.3), (5, 0.4)):
            app.add_run(new_run(week * 7 + d, km * share, km * share * 6, rpe=4))


def test_the_report_is_records_and_enums(app):
    five_weeks(app)
    r = app.report("2026-06-07", 5)
    assert (r.as_of, r.time_zone, r.units) == ("2026-06-07", "Europe/Berlin", sg.Units.KM)
    assert len(r.weeks) == 5 and r.weeks[-1].week == r.this_week.week
    assert round(r.this_week.totals.distance_meters) == 45_000
    assert round(r.last_week.totals.distance_meters) == 30_000
    assert r.this_week.totals.runs == 3
    weekly = next(w for w in r.warnings if w.kind == sg.WarningKind.WEEKLY_INCREASE)
    assert weekly.severity in (sg.Severity.CAUTION, sg.Severity.HIGH)
    assert round(weekly.numbers["distance_change_pct"]) == 50
    assert "10%" in weekly.explanation
    assert isinstance(r.acwr.zone, sg.AcwrZone)
    assert len(r.acwr_series) == 35 and r.acwr_series[-1] == r.acwr
    assert [(m.method, m.runs) for m in r.load_methods] == [(sg.LoadMethod.RPE, 15)]
    assert r.shoes[0].wear == sg.ShoeWear.OK and r.shoes[0].run_count == 15
    assert r.cadence.target_mode == sg.CadenceTargetMode.AUTO
    assert {t.name for t in r.thresholds} >= {"weekly_increase_pct", "acwr_sweet_spot_high"}
    assert r == app.report(as_of="2026-06-07", weeks=5), "the same answer twice"
    # The runner's own thresholds are what the rules use.
    app.set_threshold("weekly_increase_pct", 60.0)
    again = app.report("2026-06-07", 5)
    assert sg.WarningKind.WEEKLY_INCREASE not in [w.kind for w in again.warnings]

    with pytest.raises(sg.StrideguardError.InvalidInput) as e:
        app.report("June", 5)
    assert e.value.field == "as_of" and "June" in e.value.reason
    with pytest.raises(sg.StrideguardError.InvalidInput) as e:
        app.report(None, 0)
    assert (e.value.field, e.value.reason) == ("weeks", "weeks: 0 is outside 1-520")
    assert len(app.report().weeks) == 8, "default: 8 weeks up to today"


def test_the_html_report_draws_the_runners_own_marks(app):
    five_weeks(app)
    page = app.report_html("2026-06-07", 5)
    assert page.startswith("<!DOCTYPE html>") and "<script" not in page
    assert page.count("<svg") == 4
    assert "+10% guide" in page
    app.set_threshold("weekly_increase_pct", 8.0)
    app.set_threshold("acwr_sweet_spot_high", 1.25)
    page = app.report_html("2026-06-07", 5)
    assert "+8% guide" in page and "0.8-1.25" in page
