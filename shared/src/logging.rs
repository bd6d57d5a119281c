//! Logging: `tracing`, JSON when Lambda's advanced logging sets `AWS_LAMBDA_LOG_FORMAT=JSON`,
//! level from `AWS_LAMBDA_LOG_LEVEL` or `RUST_LOG`. Messages and secrets are never logged:
//! only names, counts and error descriptions.

pub fn init() {
    lambda_runtime::tracing::init_default_subscriber();
}

/// Ends a failed init with the reason in the function's log; Lambda then reports
/// `Runtime.ExitError` and retries the event later, so nothing is lost.
pub fn exit_on_init_error<T, E: std::fmt::Display>(result: Result<T, E>) -> T {
    match result {
        Ok(value) => value,
        Err(e) => {
            tracing::error!(error = %e, "init failed");
            std::process::exit(1)
        }
    }
}
