//! `node.spec.providerID` → (zone, instance id): anything a node may carry.
#![no_main]

use elb_operator::controller::backends::parse_provider_id;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    if let Some((zone, id)) = parse_provider_id(s) {
        assert!(!zone.is_empty() && !zone.contains('/'), "{s:?} -> zone {zone:?}");
        assert!(id.starts_with("i-") && id.len() > 2 && !id.contains('/'), "{s:?} -> id {id:?}");
        assert!(s.ends_with(&format!("{zone}/{id}")), "{s:?} -> {zone:?} {id:?}");
    }
});
