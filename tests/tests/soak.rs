//! The short soak CI runs (the long one is `cargo run -p lookout-tests --bin soak`): each
//! function that uses the state table, warm, must not grow with the calls it makes to it.

use lookout_tests::aws_stub::AwsStub;
use lookout_tests::soak::{FUNCTIONS, soak};

/// Before the fix, each state call kept ~75 KB: 400 invocations grew by tens of MB.
const INVOCATIONS: usize = 400;
const LIMIT_KIB: u64 = 4 * 1024;

#[test]
fn warm_functions_do_not_grow_with_state_table_calls() {
    let stub = AwsStub::start();
    for function in FUNCTIONS {
        let s = soak(function, INVOCATIONS, &stub);
        assert!(
            s.state_writes >= INVOCATIONS as u64,
            "{s:?}: the table was not used"
        );
        assert!(s.growth_kib() <= LIMIT_KIB, "{s:?}");
        assert!(s.fds.1 <= s.fds.0 + 4, "{s:?}: connections pile up");
    }
}
