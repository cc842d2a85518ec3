//! `strideguard-server`: the sync server on its own (the same as `strideguard serve`).

use clap::Parser;

#[derive(Parser)]
#[command(
    name = "strideguard-server",
    version,
    about = "Strideguard's sync server: stores encrypted records it cannot read"
)]
struct Cli {
    #[command(flatten)]
    serve: strideguard_server::ServeArgs,
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "strideguard_server=info".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    strideguard_server::run(&Cli::parse().serve)
}
