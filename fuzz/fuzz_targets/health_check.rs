//! A HealthCheck spec through the controller's validation: the first four bytes are the
//! interval, timeout and thresholds, the rest is the target.
#![no_main]

use elb_operator::controller::healthcheck::validate;
use elb_operator::crd::HealthCheckSpec;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 4 {
        return;
    }
    let n = |i: usize| i32::from(data[i] as i8);
    let spec = HealthCheckSpec {
        target: String::from_utf8_lossy(&data[4..]).into_owned(),
        interval_seconds: n(0),
        timeout_seconds: n(1),
        healthy_threshold: n(2),
        unhealthy_threshold: n(3),
    };
    if let Ok(hc) = validate(&spec) {
        assert_eq!(hc.target, spec.target);
        assert!((5..=300).contains(&hc.interval) && hc.timeout < hc.interval, "{hc:?}");
        assert!(hc.target.encode_utf16().count() <= 1024);
    }
});
