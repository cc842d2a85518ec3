//! Helpers shared by Strideguard's end-to-end tests (the tests themselves live in `tests/`).

use std::path::PathBuf;

use strideguard_core::Store;
use strideguard_core::demo::DemoHistory;

/// A database file in a fresh temporary folder (removed when the guard drops).
pub fn temp_db() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let path = dir.path().join("strideguard.db");
    (dir, path)
}

/// Writes a demo history into `store` the way `strideguard demo` does.
pub fn load_demo(
    store: &mut Store,
    history: &DemoHistory,
) -> Result<(), strideguard_core::StoreError> {
    store.set_profile(&history.profile)?;
    for shoe in &history.shoes {
        store.add_shoe(shoe)?;
    }
    for (run, samples) in &history.runs {
        store.add_run(run, samples)?;
    }
    Ok(())
}

/// A private D-Bus with the BlueZ stand-in (`tests/bluez/standin.py`) for tests of the real
/// btleplug code path. Needs Debian's dbus-daemon, python3-dbus and python3-gi.
pub mod bluez {
    use std::io::{BufRead, BufReader};
    use std::path::Path;
    use std::process::{Child, Command, Stdio};

    /// Ends a child process however the test ends.
    pub struct Killed(pub Child);

    impl Drop for Killed {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    pub fn start_bus(dir: &Path) -> (Killed, String) {
        let socket = dir.join("system_bus_socket");
        let config = dir.join("bus.conf");
        std::fs::write(
            &config,
            format!(
                r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
     "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
    <busconfig>
      <type>system</type>
      <listen>unix:path={}</listen>
      <auth>EXTERNAL</auth>
      <policy context="default">
        <allow user="*"/>
        <allow own="*"/>
        <allow send_destination="*"/>
        <allow receive_sender="*"/>
      </policy>
    </busconfig>
    "#,
                socket.display()
            ),
        )
        .unwrap();
        let mut daemon = Command::new("dbus-daemon")
            .arg(format!("--config-file={}", config.display()))
            .args(["--nofork", "--print-address"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("dbus-daemon (Debian's dbus package) is needed: bash .ci/run installs it");
        let mut line = String::new();
        BufReader::new(daemon.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert!(line.starts_with("unix:"), "dbus-daemon said {line:?}");
        (Killed(daemon), line.trim().to_string())
    }

    pub fn start_standin(address: &str, drop_after: u32, total: u32) -> Killed {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("bluez/standin.py");
        let mut child = Command::new("/usr/bin/python3")
            .arg(script)
            .arg(format!("--drop-after={drop_after}"))
            .arg(format!("--total={total}"))
            .env("DBUS_SYSTEM_BUS_ADDRESS", address)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("/usr/bin/python3 with python3-dbus and python3-gi is needed");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "ready", "the stand-in did not start");
        Killed(child)
    }
}
