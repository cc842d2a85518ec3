// UI-thread stalls while a sync runs, from the Kotlin bindings on a desktop JVM (JNA), plus what
// cancelling a sync does. The same measurement as ui_stall.py (read its header).
//
// Build and run (from the repository root, after mobile-ffi/bindings.sh --release; run.sh does
// all of this):
//   K=target/tools/kotlin-compiler/package
//   CP=/usr/share/java/jna.jar:$K/lib/kotlinx-coroutines-core-jvm.jar
//   $K/bin/kotlinc -nowarn target/bindings/kotlin-jvm/org/strideguard/strideguard.kt \
//       mobile-ffi/bench/ui_stall/UiStall.kt -cp $CP -d /tmp/uistall.jar
//   java -Djna.library.path=target/bindings/python -cp /tmp/uistall.jar:$CP:$K/lib/kotlin-stdlib.jar \
//       UiStallKt DEMO_DB SERVER_URL [kdf=100000] [periodMs=16] [baselineS=5]
//
// The main thread is the UI thread: one tick every periodMs (mix "runs": runs(); mix
// "report+coach": report(null, 8) then CadenceCoach.feed), each call timed, with nothing else
// running (baseline) and while a coroutine on Dispatchers.IO (GlobalScope.launch) runs
// register + syncNow on a copy of DEMO_DB (upload) and then login + syncNow on a new empty
// database (download). A call counts in the phase in which it started.
//
// Cancellation: on a fresh registered copy, launch syncNow, cancel the job after 1 s, then time
// job.join(), the next runs() and the next syncNow (order A), and on another copy the next
// syncNow first, then runs() (order B).
import java.io.File
import java.nio.file.Files
import java.nio.file.StandardCopyOption
import kotlinx.coroutines.*
import org.strideguard.*

const val PASS = "correct horse battery staple"

class Quiet : CueListener {
    @Volatile var cues = 0
    override fun onCue(cue: Cue) { cues++ }
}

data class Stat(val calls: Int, val median: Double, val p99: Double, val worst: Double)

fun stat(ms: List<Double>): Stat {
    val s = ms.sorted()
    val p99 = s[minOf(s.size - 1, maxOf(0, Math.ceil(0.99 * s.size).toInt() - 1))]
    val median = if (s.size % 2 == 1) s[s.size / 2] else (s[s.size / 2 - 1] + s[s.size / 2]) / 2
    return Stat(s.size, median, p99, s.last())
}

fun ms(t0: Long) = (System.nanoTime() - t0) / 1e6

class Ui(val app: Strideguard, val mix: String, val periodMs: Double) {
    val coach = CadenceCoach(170.0, Quiet())
    var t = 0.0

    fun calls(): List<Pair<String, () -> Any>> {
        if (mix == "runs") return listOf("runs" to { app.runs() })
        t += 1.0
        val reading = Reading(t, 160.0 + (t % 7), 3.0, 150)
        return listOf("report" to { app.report(null, 8) }, "coach.feed" to { coach.feed(reading) })
    }

    /** Ticks until [until]; (phase, call) -> the calls' times in ms. */
    fun loop(phase: () -> String, until: () -> Boolean): Map<Pair<String, String>, MutableList<Double>> {
        val out = LinkedHashMap<Pair<String, String>, MutableList<Double>>()
        val period = (periodMs * 1e6).toLong()
        var next = System.nanoTime()
        while (!until()) {
            for ((name, f) in calls()) {
                val p = phase()
                val t0 = System.nanoTime()
                f()
                out.getOrPut(p to name) { mutableListOf() }.add(ms(t0))
            }
            next += period
            val delay = next - System.nanoTime()
            if (delay > 0) Thread.sleep(delay / 1_000_000, (delay % 1_000_000).toInt())
            else next = System.nanoTime() // a stalled frame: do not try to catch up
        }
        return out
    }
}

class Background(val steps: List<Pair<String, suspend () -> Any>>) {
    @Volatile var phase = "starting"
    @Volatile var done = false
    val times = LinkedHashMap<String, Double>()
    val results = LinkedHashMap<String, Any>()
    var error: Throwable? = null

    @OptIn(DelicateCoroutinesApi::class)
    fun start(): Job = GlobalScope.launch(Dispatchers.IO) {
        try {
            for ((name, step) in steps) {
                phase = name
                val t0 = System.nanoTime()
                results[name] = step()
                times[name] = ms(t0) / 1000
            }
        } catch (e: Throwable) {
            error = e
        } finally {
            phase = "after"
            done = true
        }
    }
}

fun freshCopy(demo: String, dir: File, name: String): Strideguard {
    val f = File(dir, name)
    Files.copy(File(demo).toPath(), f.toPath(), StandardCopyOption.REPLACE_EXISTING)
    val app = Strideguard.open(f.path)
    // The demo synced with its own (now stopped) server: unlink, so register is allowed and the
    // first sync uploads the whole history.
    if (app.account() != null) runBlocking { app.logout() }
    return app
}

fun during(app: Strideguard, mix: String, periodMs: Double, steps: List<Pair<String, suspend () -> Any>>):
    Pair<Map<Pair<String, String>, MutableList<Double>>, Background> {
    val bg = Background(steps)
    val job = bg.start()
    val samples = Ui(app, mix, periodMs).loop({ bg.phase }, { bg.done })
    runBlocking { job.join() }
    bg.error?.let { throw it }
    return samples to bg
}

val ORDER = listOf("baseline", "register", "sync (upload)", "login", "sync (download)", "after")

@OptIn(DelicateCoroutinesApi::class)
fun main(args: Array<String>) {
    val demo = args[0]
    val server = args[1]
    val kdf = args.getOrNull(2)?.toLong() ?: 100_000L
    val periodMs = args.getOrNull(3)?.toDouble() ?: 16.0
    val baselineS = args.getOrNull(4)?.toDouble() ?: 5.0
    val dir = Files.createTempDirectory("ui-stall-kt-").toFile()
    try {
        // Warm up JNA and the JIT so that the baseline measures steady state.
        val warm = freshCopy(demo, dir, "warm.db")
        repeat(300) { warm.runs(); warm.report(null, 8) }

        for ((i, mix) in listOf("runs", "report+coach").withIndex()) {
            val table = LinkedHashMap<Pair<String, String>, List<Double>>()
            val base = freshCopy(demo, dir, "baseline-$i.db")
            val end = System.nanoTime() + (baselineS * 1e9).toLong()
            table.putAll(Ui(base, mix, periodMs).loop({ "baseline" }, { System.nanoTime() > end }))

            val user = "kt-${mix.replace('+', '-')}-${System.nanoTime() % 100_000_000}"
            val phone = freshCopy(demo, dir, "phone-$i.db")
            val (up, bgUp) = during(phone, mix, periodMs, listOf(
                "register" to suspend { phone.register(server, user, PASS, "phone", kdf) },
                "sync (upload)" to suspend { phone.syncNow() },
            ))
            val watch = Strideguard.open(File(dir, "watch-$i.db").path)
            val (down, bgDown) = during(watch, mix, periodMs, listOf(
                "login" to suspend { watch.login(server, user, PASS, "watch") },
                "sync (download)" to suspend { watch.syncNow() },
            ))
            table.putAll(up)
            table.putAll(down)
            val sUp = bgUp.results["sync (upload)"] as SyncSummary
            val sDown = bgDown.results["sync (download)"] as SyncSummary
            check(sDown.downloaded == sUp.uploaded) { "$sUp vs $sDown" }
            check(watch.runs().size == phone.runs().size)
            val steps = bgUp.times + bgDown.times
            println("\nkotlin, UI mix '$mix' (one tick every ${periodMs} ms), user $user")
            println("  background: " + steps.entries.joinToString(", ") { "%s %.2f s".format(it.key, it.value) } +
                "; uploaded ${sUp.uploaded} records, downloaded ${sDown.downloaded}")
            println("  %-17s %-11s %6s %10s %9s %9s".format("phase", "call", "calls", "median ms", "p99 ms", "worst ms"))
            for ((k, v) in table.entries.sortedWith(compareBy({ ORDER.indexOf(it.key.first) }, { it.key.second }))) {
                val s = stat(v)
                println("  %-17s %-11s %6d %10.3f %9.2f %9.1f".format(k.first, k.second, s.calls, s.median, s.p99, s.worst))
            }
        }

        println("\nkotlin, cancelling a sync (launch syncNow on Dispatchers.IO, cancel after 1 s)")
        for (order in listOf("A", "B")) {
            val user = "kt-cancel-$order-${System.nanoTime() % 100_000_000}"
            val app = freshCopy(demo, dir, "cancel-$order.db")
            runBlocking { app.register(server, user, PASS, "phone", kdf) }
            var outcome = "running"
            val t0 = System.nanoTime()
            val job = GlobalScope.launch(Dispatchers.IO) {
                outcome = try {
                    "completed: ${app.syncNow()}"
                } catch (e: CancellationException) {
                    "cancelled"
                }
            }
            Thread.sleep(1000)
            val tc = System.nanoTime()
            job.cancel()
            val cancelMs = ms(tc)
            val tj = System.nanoTime()
            runBlocking { job.join() }
            val joinMs = ms(tj)
            val lines = mutableListOf(
                "cancel() %.2f ms, job.join() %.2f ms after it, coroutine $outcome".format(cancelMs, joinMs))
            if (order == "A") {
                val tr = System.nanoTime()
                val n = app.runs().size
                lines += "next runs() %.1f ms (%d runs; returned %.2f s after launch)".format(ms(tr), n, ms(t0) / 1000)
                val ts = System.nanoTime()
                val s = runBlocking { app.syncNow() }
                lines += "next syncNow %.1f ms: uploaded ${s.uploaded}, downloaded ${s.downloaded}".format(ms(ts))
                val tr2 = System.nanoTime()
                app.runs()
                lines += "runs() after that %.2f ms".format(ms(tr2))
            } else {
                val ts = System.nanoTime()
                val s = runBlocking { app.syncNow() }
                lines += "next syncNow %.1f ms: uploaded ${s.uploaded}, downloaded ${s.downloaded} (returned %.2f s after launch)"
                    .format(ms(ts), ms(t0) / 1000)
                val tr = System.nanoTime()
                app.runs()
                lines += "next runs() %.2f ms".format(ms(tr))
            }
            println("  order $order: " + lines.joinToString("\n           "))
        }
    } finally {
        dir.deleteRecursively()
    }
    // The bindings' tokio runtime keeps non-daemon threads: leave explicitly.
    System.exit(0)
}
