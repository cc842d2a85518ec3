"""Sync and the account through the bindings, against a server on 127.0.0.1 (some of it behind
a proxy that holds an answer until the test releases it): nothing an app calls waits for the
network, sync can be cancelled, and every failure is an error an app can act on."""

import asyncio
import threading

import pytest

import strideguard as sg
from conftest import FAST_KDF, PASS, PATIENCE_S, SERVER, FixedClock, new_run, new_user


def run_async(coro):
    return asyncio.run(coro)


class Steps(sg.SyncListener):
    def __init__(self):
        self.steps = []

    def on_progress(self, p):
        self.steps.append(p)


class Throws(sg.SyncListener):
    def on_progress(self, p):
        raise ValueError("the progress bar is gone")


def linked(tmp_path, name, user, server=SERVER, register=False):
    app = sg.Strideguard.open(str(tmp_path / f"{name}.db"), time_zone="Europe/Berlin")
    if register:
        run_async(app.register(server, user, PASS, name, FAST_KDF))
    else:
        run_async(app.login(server, user, PASS, name))
    return app


def test_sync_between_two_apps_with_progress(tmp_path):
    user = new_user()
    phone = sg.Strideguard.open(str(tmp_path / "phone.db"))
    phone.add_shoe(sg.NewShoe(name="Pegasus"))
    phone.add_run(new_run(0, 8, 45, notes="synced from python"))
    with pytest.raises(sg.StrideguardError.NotLinked) as e:
        run_async(phone.sync_now())
    assert "strideguard" not in e.value.reason, "no CLI command in an app's message"
    acct = run_async(phone.register(SERVER, user, PASS, "phone", FAST_KDF))
    assert (acct.username, acct.server) == (user, SERVER)
    status = phone.sync_status()
    assert status.account == acct and status.pending_changes == 2 and status.last_sync_unix_ms is None
    steps = Steps()
    up = run_async(phone.sync_now(steps))
    assert up.uploaded == 2 and up.rejected == [] and up.listener_errors == 0, "the shoe and the run"
    stages = [s.stage for s in steps.steps]
    assert stages[0] == sg.SyncStage.PREPARING and sg.SyncStage.UPLOADING in stages
    assert steps.steps[-1].uploaded_so_far == 2 and steps.steps[-1].remaining_uploads == 0
    after = phone.sync_status()
    assert after.pending_changes == 0 and after.last_sync_unix_ms is not None

    watch = sg.Strideguard.open(str(tmp_path / "watch.db"))
    with pytest.raises(sg.StrideguardError.WrongPassphrase):
        run_async(watch.login(SERVER, user, "wrong passphrase", "watch"))

    async def both():
        await watch.login(SERVER, user, PASS, "watch")
        return await watch.sync_now(Throws())

    down = run_async(both())
    assert down.downloaded == up.uploaded
    assert down.listener_errors >= 1, "a throwing listener is counted, the sync goes on"
    assert [r.notes for r in watch.runs()] == ["synced from python"]
    assert watch.runs()[0].id == phone.runs()[0].id
    assert watch.shoes()[0].name == "Pegasus"

    devices = run_async(phone.devices())
    assert sorted(d.name for d in devices) == ["phone", "watch"]
    assert [d.current for d in devices if d.name == "phone"] == [True]
    watch_id = next(d.id for d in devices if not d.current)
    revoked = run_async(phone.revoke_device(watch_id[:8]))
    assert revoked.name == "watch"
    with pytest.raises(sg.StrideguardError.Unauthorized) as e:
        run_async(watch.sync_now())
    assert "log in again" in e.value.reason
    with pytest.raises(sg.StrideguardError.NotFound) as e:
        run_async(phone.revoke_device("ffffffff"))
    assert e.value.what == "device"
    assert run_async(watch.logout()) is False, "the server refused the revoked session"
    assert watch.account() is None
    assert len(watch.runs()) == 1, "the data stays"


def test_input_mistakes_are_input_errors_and_network_failures_are_network_errors(tmp_path):
    app = sg.Strideguard.open(str(tmp_path / "a.db"))
    cases = [
        (("ftp://nowhere", new_user(), PASS, "phone", FAST_KDF), "server"),
        ((SERVER, "a/b", PASS, "phone", FAST_KDF), "username"),
        ((SERVER, new_user(), "short", "phone", FAST_KDF), "passphrase"),
        ((SERVER, new_user(), PASS, "", FAST_KDF), "device_name"),
        ((SERVER, new_user(), PASS, "phone", 10), "kdf_iterations"),
    ]
    for args, field in cases:
        with pytest.raises(sg.StrideguardError.InvalidInput) as e:
            run_async(app.register(*args))
        assert e.value.field == field, (field, e.value)
    taken = new_user()
    other = sg.Strideguard.open(str(tmp_path / "b.db"))
    run_async(other.register(SERVER, taken, PASS, "laptop", FAST_KDF))
    with pytest.raises(sg.StrideguardError.InvalidInput) as e:
        run_async(app.register(SERVER, taken, PASS, "phone", FAST_KDF))
    assert e.value.field == "username" and "taken" in e.value.reason
    with pytest.raises(sg.StrideguardError.Conflict) as e:
        run_async(other.register(SERVER, new_user(), PASS, "laptop", FAST_KDF))
    assert "already syncs" in e.value.reason
    with pytest.raises(sg.StrideguardError.Network) as e:
        run_async(app.login("http://127.0.0.1:9", new_user(), PASS, "phone"))
    assert "os error" not in e.value.reason and "127.0.0.1:9" in e.value.reason
    assert app.account() is None, "nothing was linked"


def test_passphrase_change_and_account_deletion(tmp_path):
    user = new_user()
    laptop = linked(tmp_path, "laptop", user, register=True)
    laptop.add_run(new_run(1, 5, 30))
    run_async(laptop.sync_now())
    with pytest.raises(sg.StrideguardError.WrongPassphrase):
        run_async(laptop.change_passphrase("not the old one", "a brand new passphrase"))
    with pytest.raises(sg.StrideguardError.InvalidInput) as e:
        run_async(laptop.change_passphrase(PASS, "short"))
    assert e.value.field == "new_passphrase"
    run_async(laptop.change_passphrase(PASS, "a brand new passphrase"))
    phone = sg.Strideguard.open(str(tmp_path / "phone.db"))
    with pytest.raises(sg.StrideguardError.WrongPassphrase):
        run_async(phone.login(SERVER, user, PASS, "phone"))
    run_async(phone.login(SERVER, user, "a brand new passphrase", "phone"))
    assert run_async(phone.sync_now()).downloaded == 1

    with pytest.raises(sg.StrideguardError.WrongPassphrase):
        run_async(laptop.delete_account(PASS))
    run_async(laptop.delete_account("a brand new passphrase"))
    assert laptop.account() is None and laptop.run_count() == 1, "unlinked, the data kept"
    with pytest.raises(sg.StrideguardError.Unauthorized):
        run_async(phone.sync_now())
    fresh = sg.Strideguard.open(str(tmp_path / "fresh.db"))
    run_async(fresh.register(SERVER, user, PASS, "fresh", FAST_KDF))
    assert run_async(fresh.sync_now()).downloaded == 0, "the account and its records are gone"


def test_a_sync_held_in_mid_transport_blocks_no_other_call(tmp_path, proxy):
    """The server holds its answer until the test releases it; meanwhile the app's reads, a
    report, a local write and a coach session all return, from another thread."""
    user = new_user()
    laptop = linked(tmp_path, "laptop", user, register=True)
    for d in range(20):
        laptop.add_run(new_run(d, 5, 30))
    run_async(laptop.sync_now())
    phone = sg.Strideguard.open(str(tmp_path / "phone.db"))
    run_async(phone.login(proxy.url, user, PASS, "phone"))
    phone.add_run(new_run(30, 10, 50, notes="before the sync"))
    proxy.arm()
    result = {}

    def sync():
        try:
            result["summary"] = run_async(phone.sync_now())
        except Exception as e:  # noqa: BLE001 - reported below
            result["error"] = e

    syncing = threading.Thread(target=sync)
    syncing.start()
    assert proxy.holding.wait(PATIENCE_S), "the sync reached the server"
    answers = {}

    def app_thread():
        answers["runs"] = phone.runs()
        answers["report"] = phone.report()
        answers["status"] = phone.sync_status()
        answers["added"] = phone.add_run(new_run(31, 6, 35, notes="during the sync"))
        coach = sg.CadenceCoach(170.0, Collect())
        answers["cues"] = sum(
            coach.feed(sg.Reading(elapsed_seconds=float(t), cadence_spm=158.0, speed_mps=3.0)) for t in range(200)
        )

    ui = threading.Thread(target=app_thread)
    ui.start()
    ui.join(PATIENCE_S)
    assert not ui.is_alive(), "the app's calls returned while the sync was held"
    assert proxy.holding.is_set() and not proxy.released.is_set(), "and the sync was still held"
    assert [r.notes for r in answers["runs"]] == ["before the sync"]
    assert answers["report"].as_of == phone.today() and answers["cues"] > 0
    proxy.release()
    syncing.join(PATIENCE_S)
    assert not syncing.is_alive() and "error" not in result, result
    assert result["summary"].downloaded == 20
    assert phone.run_count() == 22
    # The run added during the sync goes up with it (the merge folds it in first) or with the
    # next one; either way the laptop gets it.
    run_async(phone.sync_now())
    assert phone.sync_status().pending_changes == 0
    assert laptop.run_count() == 20
    run_async(laptop.sync_now())
    assert laptop.run_count() == 22


class Collect(sg.CueListener):
    def __init__(self):
        self.cues = []

    def on_cue(self, cue):
        self.cues.append(cue)


def test_a_cancelled_sync_stops_and_the_next_one_finishes_it(tmp_path, proxy):
    user = new_user()
    laptop = linked(tmp_path, "laptop", user, register=True)
    for d in range(10):
        laptop.add_run(new_run(d, 5, 30))
    run_async(laptop.sync_now())
    phone = sg.Strideguard.open(str(tmp_path / "phone.db"))
    run_async(phone.login(proxy.url, user, PASS, "phone"))

    # A handle, as a Swift app would use.
    handle = sg.Cancellation()
    proxy.arm()
    result = {}

    def sync():
        try:
            result["summary"] = run_async(phone.sync_now(cancel=handle))
        except sg.StrideguardError as e:
            result["error"] = e

    t = threading.Thread(target=sync)
    t.start()
    assert proxy.holding.wait(PATIENCE_S)
    handle.cancel()
    proxy.release()
    t.join(PATIENCE_S)
    assert isinstance(result.get("error"), sg.StrideguardError.Cancelled), result
    assert phone.run_count() == 10, "the page in flight was kept"

    # Cancelling the task awaiting it, as a Kotlin coroutine or an asyncio task is cancelled.
    phone.add_run(new_run(20, 7, 40))
    proxy.arm()

    async def cancel_the_task():
        task = asyncio.ensure_future(phone.sync_now())
        await asyncio.get_running_loop().run_in_executor(None, proxy.holding.wait, PATIENCE_S)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    run_async(cancel_the_task())
    assert phone.run_count() == 11, "reads do not wait for the cancelled work"
    proxy.release()

    # `cancel_sync` on the object stops whatever sync runs on it.
    laptop.add_run(new_run(21, 9, 50))
    run_async(laptop.sync_now())
    proxy.arm()
    result.clear()
    t = threading.Thread(target=lambda: result.update(outcome=_outcome(phone)))
    t.start()
    assert proxy.holding.wait(PATIENCE_S)
    phone.cancel_sync()
    proxy.release()
    t.join(PATIENCE_S)
    assert isinstance(result.get("outcome"), sg.StrideguardError.Cancelled), result

    summary = run_async(phone.sync_now())
    assert summary.uploaded == 1, "the run added before the cancelled syncs goes up now"
    assert phone.run_count() == 12
    run_async(laptop.sync_now())
    assert laptop.run_count() == 12


def _outcome(app):
    try:
        return run_async(app.sync_now())
    except sg.StrideguardError as e:
        return e


def test_two_objects_and_two_writers_share_one_file(tmp_path):
    path = str(tmp_path / "shared.db")
    app = sg.Strideguard.open(path)
    widget = sg.Strideguard.open(path)
    errors = []

    def write(obj, day0):
        try:
            for d in range(25):
                obj.add_run(new_run(day0 + d, 5, 30))
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=write, args=(o, i * 100)) for i, o in enumerate([app, widget, app, widget])]
    for t in threads:
        t.start()
    for t in threads:
        t.join(PATIENCE_S)
    assert errors == [], errors
    assert app.run_count() == widget.run_count() == 100
    user = new_user()
    run_async(app.register(SERVER, user, PASS, "phone", FAST_KDF))
    assert widget.account() is not None, "the link is in the file, both see it"
    assert run_async(widget.sync_now()).uploaded == 100
    other = linked(tmp_path, "tablet", user)
    assert run_async(other.sync_now()).downloaded == 100
    assert other.run_count() == 100


def test_the_apps_clock_stamps_the_last_sync(tmp_path):
    clock = FixedClock(1_800_000_000_000)
    app = sg.Strideguard.open(str(tmp_path / "c.db"), clock=clock)
    run_async(app.register(SERVER, new_user(), PASS, "phone", FAST_KDF))
    run_async(app.sync_now())
    assert app.sync_status().last_sync_unix_ms == clock.now
