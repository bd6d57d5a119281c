//! A configuration error at init reaches the Runtime API's init-error endpoint, so the invoke
//! result names `Lookout.ConfigError` and the variable (not only the logs, with Lambda saying
//! `Runtime.ExitError`), and never the value, which may be a secret pasted into the wrong place.

use lookout_tests::Function;
use lookout_tests::workspace::binary;
use std::time::Duration;

const FUNCTIONS: [&str; 4] = ["log-alert", "scan-alert", "task-alert", "ecr-rescan"];
const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:alerts";
/// The bad value: a password where a setting belongs. It must appear nowhere in the report.
const SECRET: &str = "hunter2";

/// Spawns `name` with `env`, waits for it to exit, and returns the init error it reported.
fn init_error_of(name: &str, env: &[(&str, &str)]) -> lookout_tests::runtime_api::InitError {
    let env: Vec<(String, String)> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let mut function = Function::spawn(&binary(name), &env);
    let status = function
        .wait_exit(Duration::from_secs(20))
        .unwrap_or_else(|| panic!("{name} {env:?}: init did not fail"));
    assert!(!status.success(), "{name} {env:?}: exit {status}");
    assert_eq!(
        function.api.first_poll(),
        None,
        "{name}: asked for an event after a failed init"
    );
    function.init_error().unwrap_or_else(|| {
        panic!(
            "{name} {env:?}: no init error reported; output:\n{}",
            function.output().join("\n")
        )
    })
}

#[test]
fn every_function_reports_a_bad_setting_as_an_init_error_naming_the_variable_not_the_value() {
    let cases: [(&str, &[(&str, &str)]); 2] = [
        (
            "AWS_REGION",
            &[("AWS_REGION", SECRET), ("ALERT_TOPIC_ARN", TOPIC)],
        ),
        (
            "ALERT_TOPIC_ARN",
            &[("AWS_REGION", "us-east-1"), ("ALERT_TOPIC_ARN", SECRET)],
        ),
    ];
    for name in FUNCTIONS {
        for (variable, env) in cases {
            let error = init_error_of(name, env);
            assert_eq!(
                error.error_type, "Lookout.ConfigError",
                "{name} {variable}: {error:?}"
            );
            assert_eq!(
                error.header_type.as_deref(),
                Some("Lookout.ConfigError"),
                "{name} {variable}: {error:?}"
            );
            assert!(
                error.error_message.contains(variable),
                "{name}: the message names {variable}: {error:?}"
            );
            assert!(
                !error.error_message.contains(SECRET),
                "{name} {variable}: the value is repeated: {error:?}"
            );
        }
    }
}

#[test]
fn a_missing_required_setting_is_reported_as_required() {
    // ecr-rescan runs without a topic (it returns its summary), so it is not in this case.
    for name in ["log-alert", "scan-alert", "task-alert"] {
        let error = init_error_of(name, &[("AWS_REGION", "us-east-1")]);
        assert_eq!(error.error_type, "Lookout.ConfigError", "{name}: {error:?}");
        assert_eq!(
            error.error_message, "configuration: ALERT_TOPIC_ARN is required but not set",
            "{name}"
        );
    }
}
