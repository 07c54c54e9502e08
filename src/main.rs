//! The `sextant` binary: parse the command line and hand over to the library.

fn main() -> std::process::ExitCode {
    sextant::cli::run()
}
