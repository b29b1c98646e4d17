//! Every ELB answer decoder, as the client runs it: a success body through the action's
//! decoder, any other through the error parser. Each input ends in an answer or a typed
//! error; an error answer is never taken for a success.
#![no_main]

use elb_operator::controller::loadbalancer::status::error_reason;
use elb_operator::elb::fuzzing::{decode_input, ACTIONS, STATUSES};
use elb_operator::elb::Error;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(result) = decode_input(data) else { return };
    let status = STATUSES[usize::from(data[0]) / ACTIONS.len() % STATUSES.len()];
    match result {
        Ok(answer) => {
            assert_eq!(status, 200, "a {status} answer decoded as a success: {answer:?}");
        }
        Err(e) => {
            assert!(matches!(e, Error::Api { .. } | Error::UnexpectedResponse { .. } | Error::MalformedResponse { .. }), "{e:?}");
            assert!(!error_reason(&e).is_empty(), "{e:?} gives an empty condition reason");
            drop(e.to_string());
        }
    }
});
