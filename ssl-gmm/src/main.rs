//! The `ssl-gmm` command-line tool. Errors come out as one line. Exit status (README): 0
//! success; 1 a claim of `check` does not hold (or its control passed); 2 a usage error (clap's
//! own, an unknown claim, an empty selection); 3 bad input data or parameters (the library's
//! typed errors and the commands' own checks, e.g. the memory budget); 4 an I/O error (a file
//! that cannot be read or written); 5 `check` has a trained map without a convergence
//! certificate, a claim with too few resolved cases, or a claim whose calibration was measured
//! for another case design (no verdict).

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
    #[cfg(unix)]
    cleanup_on_signals();
    let args = match cli::Cli::try_parse() {
        Ok(args) => args,
        Err(e) => {
            // Help and version go to standard output (exit 0), usage errors to standard error
            // (exit 2); an output that cannot be written (`--help > /dev/full`) is an I/O error.
            let code = if e.use_stderr() { 2 } else { 0 };
            use std::io::Write as _;
            if e.print().and_then(|()| std::io::stdout().flush()).is_err() {
                eprintln!("error: cannot write to standard output");
                std::process::exit(4);
            }
            std::process::exit(code);
        }
    };
    if let Err(e) = cli::run(args) {
        // One line whatever the source says (a parser's message can span several).
        let message = format!("{e:#}").split_whitespace().collect::<Vec<_>>().join(" ");
        eprintln!("error: {message}");
        let code = exit_code(&e);
        std::process::exit(code);
    }
}

/// SIGINT and SIGTERM are taken by a thread of their own (blocked in every other thread, which
/// inherit the mask of this one, set before any is started): it removes the temporaries of
/// writes in progress and ends the process with the conventional status `128 + signal`, so
/// that an interrupted write leaves neither a half-written output nor a hidden temporary.
#[cfg(unix)]
fn cleanup_on_signals() {
    // SAFETY: `set` is a local sigset_t initialised by sigemptyset before use; pthread_sigmask
    // and sigwait only read it. This runs first in main, before any other thread exists, so
    // every thread started later inherits the blocked mask.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGTERM);
        if libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) != 0 {
            return;
        }
        std::thread::spawn(move || {
            let mut signal: libc::c_int = 0;
            // SAFETY: as above; `signal` is a valid out-pointer for the duration of the call.
            if libc::sigwait(&set, &mut signal) == 0 {
                ssl_gmm::experiments::io::remove_temporaries();
                std::process::exit(128 + signal);
            }
        });
    }
}

/// The exit status of an error (see the crate docs).
fn exit_code(e: &anyhow::Error) -> i32 {
    use ssl_gmm::experiments::{ErrorKind, ExperimentError};
    use ssl_gmm::theory_checks::CheckError;
    use ssl_gmm::{baselines::BaselineError, gmm_core::GmmError, ssl_losses::LossError};
    if let Some(c) = e.downcast_ref::<cli::CheckFailure>() {
        return match c {
            cli::CheckFailure::Failed(_) => 1,
            cli::CheckFailure::NotCertified(_)
            | cli::CheckFailure::Unresolved(_)
            | cli::CheckFailure::Uncalibrated(_) => 5,
        };
    }
    for cause in e.chain() {
        if cause.is::<std::io::Error>()
            || cause.downcast_ref::<ExperimentError>().is_some_and(|e| e.kind() == ErrorKind::Io)
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
