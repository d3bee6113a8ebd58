//! `adsync-setup`: the setup wizard. Everything is in the library (`adsync::wizard`).

fn main() -> std::process::ExitCode {
    adsync::wizard::main()
}
