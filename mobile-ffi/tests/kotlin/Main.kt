// The generated Kotlin on a desktop JVM, over the same library an Android app loads through JNA.
// Run by mobile-ffi/tests/bindings.rs; args: database folder, sync server URL, a FIT file.
import java.io.File
import kotlinx.coroutines.runBlocking
import org.strideguard.*

class Collect : CueListener {
    val cues = java.util.Collections.synchronizedList(mutableListOf<Cue>())
    val threads = java.util.Collections.synchronizedSet(mutableSetOf<Long>())
    override fun onCue(cue: Cue) {
        cues.add(cue)
        threads.add(Thread.currentThread().id)
    }
}

fun lowCadence(coach: CadenceCoach) {
    for (t in 0 until 900) {
        val cadence = if (t < 300) 170.0 else 158.0
        coach.feed(Reading(t.toDouble(), cadence, 3.0, 150u))
    }
}

fun main(args: Array<String>) {
    val dir = File(args[0])
    val server = args[1]
    val fit = args[2]
    check(version().isNotEmpty())

    val app = Strideguard.open(File(dir, "android.db").path)
    val shoe = app.addShoe("Pegasus", "Nike", false)
    check(shoe.isDefault) { "the first shoe becomes the default" }
    val monday = 1_777_878_000_000L
    for (week in 0 until 5) {
        val km = if (week == 4) 45.0 else 30.0
        for ((day, share) in listOf(0 to 0.3, 2 to 0.3, 5 to 0.4)) {
            app.addRun(NewRun(monday + (week * 7 + day) * 86_400_000L, 3600, km * share * 1000.0,
                km * share * 360.0, RunKind.EASY, 4u, null, "week $week"))
        }
    }
    check(app.runCount() == 15uL)
    val report = app.report("2026-06-07", 5u)
    check(report.weeks.size == 5)
    check(report.warnings.any { it.kind == WarningKind.WEEKLY_INCREASE }) { report.warnings.toString() }
    check(report.shoes[0].shoe.runCount == 15u)

    try {
        app.editRun("nope", null, null, null)
        error("a bad id must throw")
    } catch (e: StrideguardException.InvalidInput) {
        check(e.message!!.contains("nope")) { e.message!! }
    }

    val imported = runBlocking { app.importFile(fit) }
    check(imported.imported != null && imported.imported!!.source == "fit")
    val again = runBlocking { app.importFile(fit) }
    check(again.duplicateOf == imported.imported!!.id)

    app.logPain(PainAnswers("achilles", "right", 3u, listOf("stiffness"), listOf("morning"),
        listOf("uphill"), false, listOf(), "2026-06-01T07:00:00+01:00", null))
    val triage = app.triage("2026-06-05T08:00:00+01:00")!!
    check(triage.likely == "achilles_tendinopathy") { triage.toString() }
    val plan = app.plan()!!
    check(plan.exercises.isNotEmpty())
    try {
        app.logPain(PainAnswers("elbow", "right", 3u, listOf(), listOf(), listOf(), false,
            listOf(), "2026-06-01T07:00:00+01:00", null))
        error("an unknown location must throw")
    } catch (e: StrideguardException.InvalidInput) {
        check(e.message!!.contains("elbow"))
    }

    // Cues from the coach, on this thread and on a sensor thread.
    val here = Collect()
    val coach = CadenceCoach(170.0, here)
    lowCadence(coach)
    check(here.cues.any { it.kind == CueKind.QUICKEN })
    check(here.cues.map { it.tS } == here.cues.map { it.tS }.sorted())
    val there = Collect()
    val coach2 = CadenceCoach(170.0, there)
    val worker = Thread { lowCadence(coach2) }
    worker.start()
    worker.join()
    check(there.cues.map { it.kind } == here.cues.map { it.kind })
    check(there.threads == setOf(worker.id))

    // Sync with a second app, through the server.
    val user = "kt-" + System.nanoTime()
    runBlocking {
        app.register(server, user, "correct horse battery staple", "android", 1000u)
        val up = app.syncNow()
        check(up.uploaded >= 16uL) { up.toString() }
        val watch = Strideguard.open(File(dir, "wearos.db").path)
        try {
            watch.login(server, user, "wrong passphrase", "wear os")
            error("a wrong passphrase must throw")
        } catch (e: StrideguardException.WrongPassphrase) {
        }
        watch.login(server, user, "correct horse battery staple", "wear os")
        val down = watch.syncNow()
        check(down.downloaded == up.uploaded) { "$down vs $up" }
        check(watch.runs() == app.runs())
    }
    println("kotlin: all checks passed")
}
