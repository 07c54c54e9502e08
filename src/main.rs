//! The `sextant` binary: parse the command line and hand over to the library.

/// mimalloc instead of the system allocator: serving a request allocates many small values
/// (rows, GraphQL values, JSON), and glibc's malloc took a fifth of the server's CPU.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    sextant::cli::run()
}
