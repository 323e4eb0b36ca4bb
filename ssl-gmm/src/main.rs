//! The `ssl-gmm` command-line tool. Library errors come out as one line and exit code 2.

mod cli;

use clap::Parser;

fn main() {
    // Like other Unix filters, end quietly when the reader of our output goes away
    // (`ssl-gmm describe --json | head`) instead of failing on a broken pipe.
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of SIGPIPE before any thread is started.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let args = cli::Cli::parse();
    if let Err(e) = cli::run(args) {
        eprintln!("error: {e:#}");
        std::process::exit(2);
    }
}
