"""Live coaching: the coach, a live session saved as a run, listeners that throw, and the
sensor parsers and footpod bridge for apps that talk to a sensor themselves."""

import threading

import pytest

import strideguard as sg


class Collect(sg.CueListener):
    def __init__(self):
        self.cues = []
        self.threads = set()

    def on_cue(self, cue):
        self.cues.append(cue)
        self.threads.add(threading.get_ident())


class Throws(sg.CueListener):
    def on_cue(self, cue):
        raise RuntimeError("the speech engine is busy")


def run_low_cadence(coach, seconds=900, speed=3.0):
    """Fifteen minutes: on target, then slipping to 158."""
    for t in range(seconds):
        cadence = 170.0 if t < 300 else 158.0
        coach.feed(sg.Reading(elapsed_seconds=float(t), cadence_spm=cadence, speed_mps=speed, heart_rate_bpm=150))


def test_cues_reach_the_listener_in_order_from_any_thread():
    listener = Collect()
    coach = sg.CadenceCoach(170.0, listener)
    run_low_cadence(coach)
    kinds = [c.kind for c in listener.cues]
    assert sg.CueKind.QUICKEN in kinds
    assert all(c.target_spm == 170.0 for c in listener.cues)
    times = [c.elapsed_seconds for c in listener.cues]
    assert times == sorted(times)
    assert listener.cues[0].text == "Quicken your steps"
    assert 155 < coach.smoothed_spm() < 161
    assert coach.metronome_bpm() == 170.0
    # The sensor goes quiet: the coach says so once.
    assert coach.tick(910.0) == 1
    assert listener.cues[-1].kind == sg.CueKind.SENSOR_LOST
    assert coach.listener_errors() == 0

    other = Collect()
    coach2 = sg.CadenceCoach(170.0, other)
    worker = threading.Thread(target=run_low_cadence, args=(coach2,))
    worker.start()
    worker.join()
    assert [c.kind for c in other.cues] == [c.kind for c in listener.cues[:-1]]
    assert other.threads == {worker.ident}

    with pytest.raises(sg.StrideguardError.InvalidInput) as e:
        sg.CadenceCoach(20.0, Collect())
    assert (e.value.field, e.value.reason) == ("target_spm", "target cadence: 20 steps/min is outside 100-240 steps/min")


def test_a_listener_that_throws_is_counted_and_the_coach_goes_on():
    coach = sg.CadenceCoach(170.0, Throws())
    run_low_cadence(coach)
    given = coach.listener_errors()
    assert given > 0, "each failed cue was counted"
    assert "speech engine is busy" in coach.last_listener_error()
    assert coach.tick(910.0) == 1, "and the coach still coaches"
    assert coach.listener_errors() == given + 1


def test_the_coach_cues_from_cadence_alone():
    listener = Collect()
    coach = sg.CadenceCoach(170.0, listener)
    for t in range(300):
        coach.feed(sg.Reading(elapsed_seconds=float(t), cadence_spm=158.0))
    assert sg.CueKind.QUICKEN in [c.kind for c in listener.cues], "no speed, still coached"
    walking = Collect()
    walk = sg.CadenceCoach(170.0, walking)
    for t in range(300):
        walk.feed(sg.Reading(elapsed_seconds=float(t), cadence_spm=112.0))
    assert walking.cues == [], "a walking cadence is silent"


def test_a_live_session_is_saved_as_a_run_on_the_default_shoe(app):
    shoe = app.add_shoe(sg.NewShoe(name="Pegasus"))
    assert app.coach_target().source == sg.TargetSource.FALLBACK
    assert app.coach_target(175.0).spm == 175.0
    with pytest.raises(sg.StrideguardError.InvalidInput):
        app.coach_target(500.0)
    listener = Collect()
    session = app.start_live_session(listener=listener)
    run_low_cadence(session, seconds=600)
    assert 155 < session.smoothed_spm() < 161 and session.metronome_bpm() == 170.0
    assert round(session.distance_meters()) == round(599 * 3.0)
    assert session.tick(700.0) == 1
    assert session.metronome_bpm() is None, "silent once the sensor is lost"
    summary = session.summary()
    assert summary.run_id is None and summary.target_spm == 170.0
    assert round(summary.duration_seconds) == 599
    assert round(summary.distance_meters) == round(599 * 3.0)
    assert 0 < summary.in_band_pct < 100
    counts = {c.kind: c.count for c in summary.cues}
    assert counts[sg.CueKind.QUICKEN] == [c.kind for c in listener.cues].count(sg.CueKind.QUICKEN)
    run = session.save()
    assert run.source == sg.RunSource.LIVE and run.shoe_id == shoe.id
    assert run.sample_count == 600 and round(run.distance_meters) == round(summary.distance_meters)
    assert run.start_unix_ms + 599_000 <= app.now_ms() + 1000
    assert session.save().id == run.id, "saving twice saves once"
    assert app.run_count() == 1 and session.summary().run_id == run.id
    detail = app.run(run.id)
    assert detail.samples.cadence_spm[0] == 170.0 and detail.samples.heart_rate_bpm[0] == 150

    empty = app.start_live_session(165.0)
    assert empty.save() is None, "nothing recorded, nothing saved"
    loud = app.start_live_session(170.0, Throws())
    run_low_cadence(loud, seconds=400)
    assert loud.listener_errors() > 0 and loud.save().sample_count == 400


def test_a_glitching_sensor_neither_cues_nor_loses_the_session(app):
    listener = Collect()
    session = app.start_live_session(170.0, listener)
    nan, inf = float("nan"), float("inf")
    for t in range(300):
        session.feed(sg.Reading(elapsed_seconds=float(t), cadence_spm=170.0, speed_mps=3.0))
        if t % 60 == 30:
            session.feed(sg.Reading(elapsed_seconds=float(t), cadence_spm=nan, speed_mps=inf))
            session.feed(sg.Reading(elapsed_seconds=nan, cadence_spm=170.0))
            session.feed(sg.Reading(elapsed_seconds=1e300, cadence_spm=1e9))
    assert listener.cues == [], "on target throughout: the garbage said nothing"
    summary = session.summary()
    assert summary.rejected_readings == 5 * 3
    assert round(summary.duration_seconds) == 299
    run = session.save()
    assert run is not None and run.avg_cadence_spm == 170.0
    assert run.sample_count == 300 + 5, "the reading without a believable value is kept as time"


def test_parsers_and_the_footpod_bridge():
    hr = sg.parse_heart_rate(bytes([0x10, 148, 0x00, 0x04]))
    assert hr.bpm == 148 and hr.rr_intervals_seconds == [1.0]
    rsc = sg.parse_running_speed_cadence(bytes([0x04, 0x00, 0x03, 85]))
    assert (rsc.speed_mps, rsc.cadence_raw, rsc.running) == (3.0, 85, True)
    assert sg.parse_battery_level(bytes([87])) == 87
    with pytest.raises(sg.StrideguardError.InvalidInput) as e:
        sg.parse_running_speed_cadence(bytes([0x03, 0x00, 0x03]))
    assert "too short" in e.value.reason
    with pytest.raises(sg.StrideguardError.InvalidInput):
        sg.parse_battery_level(bytes([130]))

    bridge = sg.FootpodBridge()
    assert bridge.unit() is None
    bridge.handle(0x2A37, bytes([0x00, 151]), 0.5)
    events = []
    for t in range(6):
        out = bridge.handle(0x2A53, bytes([0x04, 0x00, 0x03, 86]), 1.0 + t)
        assert out.reading.cadence_spm == 172.0, "strides of one foot, doubled"
        assert out.reading.heart_rate_bpm == 151
        events += out.events
    assert events == [sg.BridgeEvent.CADENCE_UNIT_KNOWN(sg.CadenceUnit.STRIDES)]
    assert bridge.unit() == sg.CadenceUnit.STRIDES
    cut = bridge.handle(0x2A53, bytes([0x03, 0x00]), 8.0)
    assert cut.reading is None and isinstance(cut.events[0], sg.BridgeEvent.BAD_PACKET)
    low = bridge.handle(0x2A19, bytes([9]), 9.0)
    assert low.events == [sg.BridgeEvent.BATTERY_LOW(9)]
    c = bridge.counts()
    assert (c.heart_rate, c.rsc, c.battery, c.bad) == (1, 6, 1, 1)
    steps = sg.FootpodBridge(sg.CadenceUnit.STEPS)
    assert steps.handle(0x2A53, bytes([0x04, 0x00, 0x03, 172]), 1.0).reading.cadence_spm == 172.0
