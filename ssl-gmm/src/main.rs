//! The `ssl-gmm` command-line tool. Errors come out as one line. Exit status (README): 0
//! success; 1 a claim of `check` does not hold (or its control passed); 2 a usage error (clap's
//! own, an unknown claim, an empty selection); 3 bad input data or parameters (the library's
//! typed errors and the commands' own checks, e.g. the memory budget); 4 an I/O error (a file that cannot be read or written); 5 `check` has a trained
//! map without a convergence certificate (no verdict).

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
        // One line whatever the source says (a parser's message can span several).
        let message = format!("{e:#}").split_whitespace().collect::<Vec<_>>().join(" ");
        eprintln!("error: {message}");
        let code = exit_code(&e);
        std::process::exit(code);
    }
}

/// The exit status of an error (see the crate docs).
fn exit_code(e: &anyhow::Error) -> i32 {
    use ssl_gmm::theory_checks::CheckError;
    use ssl_gmm::{baselines::BaselineError, experiments::ExperimentError, gmm_core::GmmError, ssl_losses::LossError};
    if let Some(c) = e.downcast_ref::<cli::CheckFailure>() {
        return match c {
            cli::CheckFailure::Failed(_) => 1,
            cli::CheckFailure::NotConverged(_) => 5,
        };
    }
    for cause in e.chain() {
        if cause.is::<std::io::Error>()
            || matches!(cause.downcast_ref::<ExperimentError>(), Some(ExperimentError::Io { .. }))
        {
            return 4;
        }
        if matches!(cause.downcast_ref::<CheckError>(), Some(CheckError::Selection(_))) {
            return 2;
        }
        if cause.is::<GmmError>()
            || cause.is::<LossError>()
            || cause.is::<BaselineError>()
            || cause.is::<ExperimentError>()
            || cause.is::<CheckError>()
            || cause.is::<serde_json::Error>()
            || cause.is::<csv::Error>()
        {
            return 3;
        }
    }
    // The command's own checks of its arguments (`bail!`): bad parameters.
    3
}
