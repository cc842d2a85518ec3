// Per-call overhead of the Kotlin bindings on the JVM, against baselines measured in the same
// run: `version()` against a plain Kotlin call, the report against the same report built
// natively in Rust (the report_native bench's nanoseconds). Args: database, as-of date, native ns.
import org.strideguard.*

fun plain(): String = System.nanoTime().toString().substring(0, 1)

inline fun perCall(n: Int, f: () -> Any): Double {
    repeat(minOf(n, 2000)) { f() }
    val start = System.nanoTime()
    repeat(n) { f() }
    return (System.nanoTime() - start).toDouble() / n
}

fun main(args: Array<String>) {
    val app = Strideguard.open(args[0])
    val asOf = args[1]
    val trivial = perCall(200_000) { version() }
    val baseline = perCall(200_000) { plain() }
    println("kotlin: version() %.0f ns a call; a plain Kotlin call %.0f ns; crossing costs about %.0f ns"
        .format(trivial, baseline, trivial - baseline))
    val report = perCall(200) { app.report(asOf, 8) }
    val native = args[2].toDouble()
    println("kotlin: report(8 weeks, %d runs) %.2f ms a call; natively in Rust %.2f ms (%.2fx)"
        .format(app.runCount().toLong(), report / 1e6, native / 1e6, report / native))
}
