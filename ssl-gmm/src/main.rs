//! The `ssl-gmm` command-line tool. Errors come out as one line. Exit status: 0 success; 1 a
//! claim of `check` does not hold (or its control passed); 2 bad input, a library error or an
//! I/O error (clap's own usage errors also exit 2); 5 `check` has a trained map without a
//! convergence certificate (no verdict).

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
        let code = match e.downcast_ref::<cli::CheckFailure>() {
            Some(cli::CheckFailure::Failed(_)) => 1,
            Some(cli::CheckFailure::NotConverged(_)) => 5,
            None => 2,
        };
        std::process::exit(code);
    }
}
