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
    strideguard_server::init_logging();
    strideguard_server::run(&Cli::parse().serve)
}
