//! The error-document parser alone (ELB/STS `ErrorResponse/Error` and EC2-style
//! `Response/Errors/Error`), on any text.
#![no_main]

use elb_operator::elb::fuzzing::parse_error;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(e) = parse_error(&String::from_utf8_lossy(data)) {
        assert_eq!(e.code, e.code.trim(), "codes are trimmed");
    }
});
