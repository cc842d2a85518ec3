"""The pain log, triage and plans, with answers as enums."""

import pytest

import strideguard as sg
from conftest import DAY_MS, MONDAY_MS, FixedClock


def answers(**over):
    a = dict(
        location=sg.PainLocation.ACHILLES,
        side=sg.PainSide.RIGHT,
        severity=3,
        character=[sg.PainCharacter.STIFFNESS],
        timing=[sg.PainTiming.MORNING],
        aggravators=[sg.PainAggravator.UPHILL],
        onset_unix_ms=MONDAY_MS,
        onset_utc_offset_seconds=3600,
    )
    a.update(over)
    return sg.PainAnswers(**a)


def test_pain_triage_and_plan(tmp_path):
    clock = FixedClock(MONDAY_MS + 4 * DAY_MS)
    app = sg.Strideguard.open(str(tmp_path / "p.db"), time_zone="Europe/Berlin", clock=clock)
    assert app.triage() is None
    entry = app.log_pain(answers())
    assert entry.logged_at_unix_ms == clock.now
    [logged] = app.pain_entries()
    assert logged == entry
    assert (logged.answers.location, logged.answers.side, logged.answers.severity) == (sg.PainLocation.ACHILLES, sg.PainSide.RIGHT, 3)
    assert logged.answers.red_flags == [] and logged.answers.swelling is False
    t = app.triage()
    assert t.urgency in (sg.Urgency.BOOK_PHYSIO, sg.Urgency.SELF_CARE)
    assert t.likely == sg.PainPattern.ACHILLES_TENDINOPATHY
    assert t.patterns[0].pattern == sg.PainPattern.ACHILLES_TENDINOPATHY
    assert t.plan == sg.PlanKind.ACHILLES_TENDINOPATHY
    assert round(t.hours_since_onset) == 96
    assert "not a diagnosis" in t.disclaimer.lower()
    assert t.episode_entries == 1 and t.answers.location == sg.PainLocation.ACHILLES
    plan = app.plan()
    assert plan.plan_for == sg.PlanKind.ACHILLES_TENDINOPATHY
    assert plan.today == "2026-05-08"
    ids = [e.id for e in plan.exercises]
    assert "eccentric_heel_drops" in ids
    assert app.tick_exercise("eccentric-heel-drops") is True
    assert app.tick_exercise("eccentric_heel_drops", "2026-05-08") is False
    done = {e.id: (e.done_today, e.done_last_7_days) for e in app.plan().exercises}
    assert done["eccentric_heel_drops"] == (True, 1)
    with pytest.raises(sg.StrideguardError.InvalidInput) as e:
        app.tick_exercise("juggling")
    assert e.value.field == "exercise_id"
    assert "'juggling' is not in your achilles_tendinopathy plan: one of" in e.value.reason
    with pytest.raises(sg.StrideguardError.InvalidInput) as e:
        app.tick_exercise("clamshells", "May 8")
    assert e.value.field == "day"

    urgent = app.log_pain(answers(red_flags=[sg.RedFlag.CANNOT_BEAR_WEIGHT], severity=8))
    assert urgent.answers.red_flags == [sg.RedFlag.CANNOT_BEAR_WEIGHT]
    t = app.triage(now_unix_ms=MONDAY_MS + 5 * DAY_MS)
    assert t.urgency == sg.Urgency.SEE_PROFESSIONAL_NOW
    assert t.red_flags == [sg.RedFlag.CANNOT_BEAR_WEIGHT]
    assert t.plan is None and t.patterns == []

    with pytest.raises(sg.StrideguardError.InvalidInput) as e:
        app.log_pain(answers(severity=11))
    assert (e.value.field, e.value.reason) == ("severity", "severity: 11 is outside 0-10")
    assert len(app.pain_entries()) == 2, "nothing logged by a refused entry"


def test_triage_of_answers_stores_nothing(app):
    knee = answers(
        location=sg.PainLocation.KNEE_OUTER,
        side=sg.PainSide.LEFT,
        severity=5,
        character=[sg.PainCharacter.SHARP],
        timing=[sg.PainTiming.CONSISTENT_POINT_IN_RUN],
        aggravators=[sg.PainAggravator.DOWNHILL],
    )
    t = app.triage_answers(knee, now_unix_ms=MONDAY_MS + DAY_MS)
    assert t.likely == sg.PainPattern.IT_BAND_SYNDROME
    assert t.plan == sg.PlanKind.IT_BAND_SYNDROME and t.episode_entries == 1
    assert app.pain_entries() == []
    assert app.plan().plan_for == sg.PlanKind.PREVENTION, "no plan was started by checking answers"
