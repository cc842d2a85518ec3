// The generated Kotlin on a desktop JVM, over the same library an Android app loads through JNA:
// every export, its errors, listeners that throw, and a sync paused in mid-step while the app's
// other calls return. Run by mobile-ffi/tests/bindings.rs; args: a scratch folder, the sync
// server's URL, the fixtures folder.
import java.io.File
import java.util.concurrent.CountDownLatch
import java.util.concurrent.TimeUnit
import kotlinx.coroutines.*
import org.strideguard.*

const val PASS = "correct horse battery staple"
const val MONDAY = 1_777_878_000_000L // 2026-05-04 07:00 UTC
const val DAY = 86_400_000L

class Collect : CueListener {
    val cues = java.util.Collections.synchronizedList(mutableListOf<Cue>())
    val threads = java.util.Collections.synchronizedSet(mutableSetOf<Long>())
    override fun onCue(cue: Cue) {
        cues.add(cue)
        threads.add(Thread.currentThread().id)
    }
}

class Throws : CueListener {
    override fun onCue(cue: Cue) = throw IllegalStateException("text to speech is busy")
}

class FixedClock(var now: Long) : WallClock {
    override fun nowMs(): Long = now
}

inline fun <reified E : Throwable> expect(what: String, block: () -> Unit): E {
    try {
        block()
    } catch (e: Throwable) {
        if (e is E) return e
        throw AssertionError("$what: expected ${E::class.simpleName}, got $e", e)
    }
    throw AssertionError("$what: expected ${E::class.simpleName}, nothing was thrown")
}

fun run(day: Long, km: Double, minutes: Double, kind: RunKind = RunKind.EASY, rpe: Int? = 4) =
    NewRun(startUnixMs = MONDAY + day * DAY, utcOffsetSeconds = 3600, distanceMeters = km * 1000.0,
        durationSeconds = minutes * 60.0, kind = kind, rpe = rpe)

fun lowCadence(coach: CadenceCoach) {
    for (t in 0 until 900) {
        coach.feed(Reading(elapsedSeconds = t.toDouble(), cadenceSpm = if (t < 300) 170.0 else 158.0,
            speedMps = 3.0, heartRateBpm = 150))
    }
}

fun records(dir: File, fixtures: File) {
    val app = Strideguard.open(File(dir, "android.db").path, timeZone = "Europe/Berlin")
    check(app.profile().timeZone == "Europe/Berlin")
    val shoe = app.addShoe(NewShoe(name = "Pegasus", brand = "Nike"))
    check(shoe.isDefault && shoe.wear == ShoeWear.OK) { "the first shoe becomes the default" }
    for (week in 0 until 5) {
        val km = if (week == 4) 45.0 else 30.0
        for ((day, share) in listOf(0 to 0.3, 2 to 0.3, 5 to 0.4)) {
            app.addRun(run(week * 7L + day, km * share, km * share * 6))
        }
    }
    check(app.runCount() == 15L && app.runs().size == 15)
    check(app.nowMs() > MONDAY && app.clockErrors() == 0L)
    val page = app.runsPage(limit = 4)
    check(page.total == 15L && page.runs.size == 4 && page.runs[0].startUnixMs > page.runs[3].startUnixMs)
    val report = app.report("2026-06-07", 5)
    check(report.weeks.size == 5 && report.thisWeek.totals.runs == 3)
    check(report.warnings.any { it.kind == WarningKind.WEEKLY_INCREASE }) { report.warnings.toString() }
    check(report.shoes[0].runCount == 15 && report.loadMethods[0].method == LoadMethod.RPE)
    check(app.reportHtml("2026-06-07", 5).contains("<svg"))
    expect<StrideguardException.InvalidInput>("weeks 0") { app.report(weeks = 0) }.also {
        check(it.field == "weeks" && it.reason == "weeks: 0 is outside 1-520") { it.reason }
    }

    val first = page.runs.last()
    val edited = app.editRun(first.id, kind = RunKind.TEMPO, notes = "hills after")
    check(edited.kind == RunKind.TEMPO && edited.rpe == 4 && edited.notes == "hills after")
    check(app.editRun(first.id, clearRpe = true).rpe == null)
    expect<StrideguardException.NotFound>("unknown run") { app.editRun("nope") }.also {
        check(it.what == "run" && it.key == "nope")
    }
    expect<StrideguardException.InvalidInput>("rpe 11") { app.addRun(run(40, 5.0, 30.0, rpe = 11)) }.also {
        check(it.field == "rpe" && it.reason == "RPE: 11 is outside 0-10") { it.reason }
    }

    // Shoes.
    val clifton = app.addShoe(NewShoe(name = "Clifton", startDistanceMeters = 500_000.0))
    check(!clifton.isDefault && clifton.wear == ShoeWear.CHECK_WEAR)
    check(app.editShoe("clifton", ShoeChanges(replaceAtMeters = 490_000.0, wearAtMeters = 300_000.0)).wear == ShoeWear.REPLACE)
    check(app.setDefaultShoe(clifton.id).isDefault)
    check(app.assignShoe(first.id, "Pegasus").shoeId == shoe.id)
    check(app.retireShoe("Pegasus").wear == ShoeWear.RETIRED)
    expect<StrideguardException.InvalidInput>("retired shoe") {
        app.addRun(NewRun(startUnixMs = MONDAY, distanceMeters = 1000.0, durationSeconds = 400.0, shoe = "Pegasus"))
    }
    app.deleteShoe("Pegasus")
    check(app.shoes().map { it.name } == listOf("Clifton"))
    val extra = app.addRun(run(60, 3.0, 20.0))
    app.deleteRun(extra.id)
    check(app.runCount() == 15L)
    expect<StrideguardException.NotFound>("deleted run") { app.deleteRun(extra.id) }

    // Profile and thresholds.
    val p = app.profile()
    check(app.setProfile(p.copy(units = Units.MI, fixedCadenceSpm = 172.0)).units == Units.MI)
    expect<StrideguardException.InvalidInput>("max HR") { app.setProfile(p.copy(maxHeartRateBpm = 300)) }.also {
        check(it.field == "max_heart_rate_bpm") { it.field }
    }
    check(app.setThreshold("weekly_increase_pct", 8.0).first { it.name == "weekly_increase_pct" }.value == 8.0)
    expect<StrideguardException.InvalidInput>("unknown threshold") { app.setThreshold("ten_percent", 1.0) }
    check(app.resetThresholds().all { it.value == it.defaultValue })

    // Import and export.
    val fit = File(fixtures, "garmin-fenix-5-run.fit").path
    val imported = runBlocking { app.importFile(fit) }
    check(imported.status == ImportStatus.IMPORTED && imported.run!!.source == RunSource.FIT)
    val again = runBlocking { app.importFile(fit) }
    check(again.status == ImportStatus.DUPLICATE && again.duplicateOf == imported.run!!.id)
    check(again.duplicateReason == DuplicateReason.SAME_FILE)
    expect<StrideguardException.Import>("broken FIT") {
        runBlocking { app.importFile(File(fixtures, "activity-filecrc.fit").path) }
    }.also { check(it.reason.contains("checksum does not match") && it.path!!.endsWith("activity-filecrc.fit")) { it.reason } }
    val detail = app.run(imported.run!!.id)
    check(detail.samples.elapsedSeconds.size.toLong() == detail.run.sampleCount && detail.run.sampleCount > 10)
    val tcx = app.exportRun(imported.run!!.id, ActivityFormat.TCX)
    val other = Strideguard.open(File(dir, "other.db").path)
    val back = runBlocking { other.importBytes(tcx, ActivityFormat.TCX, name = "export.tcx") }
    check(back.status == ImportStatus.IMPORTED && back.run!!.startUnixMs == imported.run!!.startUnixMs)
    val folder = File(dir, "exported").path
    val exported = runBlocking { app.exportRuns(listOf(imported.run!!.id), ExportFormat.FIT, folder) }
    check(exported.written == 1 && File(exported.files[0].path).length() == exported.files[0].bytes) { exported.toString() }
    val kept = runBlocking { app.exportRuns(emptyList(), ExportFormat.FIT, folder) }
    check(kept.files.first { it.runId == imported.run!!.id }.status == ExportStatus.EXISTS) { kept.toString() }
    val seen = java.util.Collections.synchronizedList(mutableListOf<Int>())
    val batch = runBlocking {
        other.importFiles(listOf(fixtures.path), object : ImportListener {
            override fun onFile(progress: ImportProgress) {
                seen.add(progress.done)
            }
        })
    }
    check(batch.failed == 2 && batch.imported >= 2 && !batch.cancelled) { batch.toString() }
    check(seen == (1..batch.files.size).toList()) { seen.toString() }
}

fun pain(dir: File) {
    val clock = FixedClock(MONDAY + 4 * DAY)
    val app = Strideguard.open(File(dir, "pain.db").path, timeZone = "Europe/Berlin", clock = clock)
    check(app.today() == "2026-05-08")
    check(app.triage() == null)
    val achilles = PainAnswers(location = PainLocation.ACHILLES, side = PainSide.RIGHT, severity = 3,
        character = listOf(PainCharacter.STIFFNESS), timing = listOf(PainTiming.MORNING),
        aggravators = listOf(PainAggravator.UPHILL), onsetUnixMs = MONDAY, onsetUtcOffsetSeconds = 3600)
    val entry = app.logPain(achilles)
    check(entry.loggedAtUnixMs == clock.now && app.painEntries() == listOf(entry))
    val t = app.triage()!!
    check(t.likely == PainPattern.ACHILLES_TENDINOPATHY && t.plan == PlanKind.ACHILLES_TENDINOPATHY) { t.toString() }
    val plan = app.plan()
    check(plan.planFor == PlanKind.ACHILLES_TENDINOPATHY && plan.today == "2026-05-08")
    check(app.tickExercise("eccentric_heel_drops"))
    check(!app.tickExercise("eccentric-heel-drops", "2026-05-08"))
    expect<StrideguardException.InvalidInput>("not in the plan") { app.tickExercise("juggling") }.also {
        check(it.field == "exercise_id" && it.reason.contains("not in your achilles_tendinopathy plan"))
    }
    val knee = achilles.copy(location = PainLocation.KNEE_OUTER, character = listOf(PainCharacter.SHARP),
        timing = listOf(PainTiming.CONSISTENT_POINT_IN_RUN), aggravators = listOf(PainAggravator.DOWNHILL))
    check(app.triageAnswers(knee).likely == PainPattern.IT_BAND_SYNDROME)
    check(app.painEntries().size == 1) { "checking answers logs nothing" }
    app.logPain(achilles.copy(redFlags = listOf(RedFlag.CANNOT_BEAR_WEIGHT), severity = 8))
    val urgent = app.triage()!!
    check(urgent.urgency == Urgency.SEE_PROFESSIONAL_NOW && urgent.plan == null)
    expect<StrideguardException.InvalidInput>("severity 11") { app.logPain(achilles.copy(severity = 11)) }.also {
        check(it.field == "severity" && it.reason == "severity: 11 is outside 0-10")
    }
}

fun live(dir: File) {
    val here = Collect()
    val coach = CadenceCoach(170.0, here)
    lowCadence(coach)
    check(here.cues.any { it.kind == CueKind.QUICKEN })
    check(here.cues.map { it.elapsedSeconds } == here.cues.map { it.elapsedSeconds }.sorted())
    val there = Collect()
    val coach2 = CadenceCoach(170.0, there)
    val worker = Thread { lowCadence(coach2) }
    worker.start()
    worker.join()
    check(there.cues.map { it.kind } == here.cues.map { it.kind })
    check(there.threads == setOf(worker.id))
    val loud = CadenceCoach(170.0, Throws())
    lowCadence(loud)
    check(loud.listenerErrors() > 0 && loud.lastListenerError()!!.contains("busy")) { "counted, never a crash" }
    check(loud.tick(910.0) == 1)
    expect<StrideguardException.InvalidInput>("target 20") { CadenceCoach(20.0, Collect()) }

    val app = Strideguard.open(File(dir, "live.db").path)
    val shoe = app.addShoe(NewShoe(name = "Pegasus"))
    check(app.coachTarget().source == TargetSource.FALLBACK)
    check(app.coachTarget(175.0).let { it.spm == 175.0 && it.source == TargetSource.REQUESTED })
    val session = app.startLiveSession(listener = Collect())
    for (t in 0 until 600) {
        session.feed(Reading(elapsedSeconds = t.toDouble(), cadenceSpm = 158.0)) // a watch: cadence only
    }
    check(session.smoothedSpm() == 158.0 && session.metronomeBpm() == 170.0 && session.distanceMeters() == 0.0)
    check(session.listenerErrors() == 0L && session.lastListenerError() == null)
    val summary = session.summary()
    check(summary.cues.any { it.kind == CueKind.QUICKEN }) { "cadence alone is coached: $summary" }
    val saved = session.save()!!
    check(saved.source == RunSource.LIVE && saved.shoeId == shoe.id && saved.sampleCount == 600L)
    check(session.save()!!.id == saved.id && app.runCount() == 1L)

    val bridge = FootpodBridge()
    var events = listOf<BridgeEvent>()
    for (t in 0 until 6) {
        val out = bridge.handle(0x2A53, byteArrayOf(0x04, 0x00, 0x03, 86), 1.0 + t)
        check(out.reading!!.cadenceSpm == 172.0)
        events = events + out.events
    }
    check(events == listOf(BridgeEvent.CadenceUnitKnown(CadenceUnit.STRIDES)) && bridge.unit() == CadenceUnit.STRIDES)
    check(bridge.handle(0x2A53, byteArrayOf(0x03, 0x00), 8.0).events.first() is BridgeEvent.BadPacket)
    check(parseHeartRate(byteArrayOf(0x00, 148.toByte())).bpm == 148)
    expect<StrideguardException.InvalidInput>("short RSC") { parseRunningSpeedCadence(byteArrayOf(0x03, 0x00)) }
    check(parseBatteryLevel(byteArrayOf(87)) == 87)
}

/** A sync listener that stops the sync in mid-step until released: a slow network, made exact. */
class Pause : SyncListener {
    val paused = CountDownLatch(1)
    val release = CountDownLatch(1)
    override fun onProgress(progress: SyncProgress) {
        if (progress.stage == SyncStage.PREPARING && paused.count > 0) {
            paused.countDown()
            release.await(60, TimeUnit.SECONDS)
        }
    }
}

fun sync(dir: File, server: String) = runBlocking {
    val user = "kt-" + System.nanoTime()
    val app = Strideguard.open(File(dir, "phone.db").path)
    app.addShoe(NewShoe(name = "Pegasus"))
    for (d in 0 until 12) app.addRun(run(d.toLong(), 8.0, 45.0))
    expect<StrideguardException.NotLinked>("not linked") { runBlocking { app.syncNow() } }
    expect<StrideguardException.InvalidInput>("short passphrase") {
        runBlocking { app.register(server, user, "short", "android", 1000) }
    }.also { check(it.field == "passphrase") }
    expect<StrideguardException.Network>("no server") {
        runBlocking { app.register("http://127.0.0.1:9", user, PASS, "android", 1000) }
    }.also { check(!it.reason.contains("os error")) { it.reason } }
    app.register(server, user, PASS, "android", 1000)
    check(app.syncStatus().pendingChanges == 13L)
    val stages = mutableListOf<SyncStage>()
    val up = app.syncNow(object : SyncListener {
        override fun onProgress(progress: SyncProgress) { stages.add(progress.stage) }
    })
    check(up.uploaded == 13L && stages.contains(SyncStage.UPLOADING)) { "$up $stages" }
    check(app.syncStatus().lastSyncUnixMs != null)

    val watch = Strideguard.open(File(dir, "wearos.db").path)
    expect<StrideguardException.WrongPassphrase>("wrong passphrase") {
        runBlocking { watch.login(server, user, "wrong passphrase", "wear os") }
    }
    watch.login(server, user, PASS, "wear os")

    // Paused in mid-sync: the app's calls return meanwhile, then the coroutine is cancelled.
    val pause = Pause()
    val job = launch(Dispatchers.IO) { watch.syncNow(pause) }
    check(pause.paused.await(60, TimeUnit.SECONDS)) { "the sync started" }
    check(watch.runs().isEmpty() && watch.report().weeks.size == 8 && watch.syncStatus().account != null)
    watch.addRun(run(30, 5.0, 30.0))
    val coach = CadenceCoach(170.0, Collect())
    check((0 until 200).sumOf { coach.feed(Reading(it.toDouble(), 158.0, 3.0, null)) } > 0)
    // Cancelling the coroutine drops the Rust future, which cancels the sync; the listener is
    // released only after that, so the sync sees the cancel at its next step.
    job.cancel()
    job.join()
    check(job.isCancelled)
    pause.release.countDown()
    check(watch.runCount() == 1L) { "the cancelled sync stopped before downloading" }
    val down = watch.syncNow()
    check(down.downloaded == up.uploaded && down.uploaded == 1L) { "$down vs $up" }
    check(watch.runCount() == 13L)

    val devices = app.devices()
    check(devices.map { it.name }.sorted() == listOf("android", "wear os"))
    val watchDevice = devices.first { !it.current }
    check(app.revokeDevice(watchDevice.id).name == "wear os")
    expect<StrideguardException.Unauthorized>("revoked") { runBlocking { watch.syncNow() } }

    // A handle cancels a sync before it starts its first step.
    val handle = Cancellation()
    handle.cancel()
    check(handle.isCancelled())
    expect<StrideguardException.Cancelled>("cancelled by its handle") { runBlocking { app.syncNow(cancel = handle) } }
    app.cancelSync() // nothing runs: nothing to stop
    check(app.syncNow().uploaded == 0L)

    app.changePassphrase(PASS, "a brand new passphrase")
    expect<StrideguardException.WrongPassphrase>("old passphrase") { runBlocking { app.deleteAccount(PASS) } }
    app.deleteAccount("a brand new passphrase")
    check(app.account() == null && app.runCount() == 13L) { "unlinked, the data kept (the watch's run came down)" }
    check(app.syncStatus().account == null)
    expect<StrideguardException.NotLinked>("logged out already") { runBlocking { app.logout() } }
    val tablet = Strideguard.open(File(dir, "tablet.db").path)
    tablet.register(server, "kt-tablet-" + System.nanoTime(), PASS, "tablet", 1000)
    check(tablet.logout()) { "the server was told" }
    check(tablet.account() == null)

    // Two objects on one file, writing at once.
    val path = File(dir, "shared.db").path
    val a = Strideguard.open(path)
    val b = Strideguard.open(path)
    val writers = listOf(a, b).mapIndexed { i, s ->
        launch(Dispatchers.IO) { for (d in 0 until 20) s.addRun(run(100L * i + d, 5.0, 30.0)) }
    }
    writers.joinAll()
    check(a.runCount() == 40L && b.runCount() == 40L)
}

fun main(args: Array<String>) {
    val dir = File(args[0])
    val server = args[1]
    val fixtures = File(args[2])
    check(version().isNotEmpty())
    records(dir, fixtures)
    pain(dir)
    live(dir)
    sync(dir, server)
    println("kotlin: all checks passed")
}
