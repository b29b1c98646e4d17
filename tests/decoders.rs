//! Property tests of the fuzz targets' decoders (see `fuzz/` and docs/reliability.md), so
//! that CI keeps what the fuzzing campaign established: every input to the ELB answer and
//! error decoders, the providerID parser and the health-check validation ends in a value or
//! a typed error, never a panic; and what well-formed documents say is what is decoded.

use std::path::PathBuf;

use elb_operator::aws::Error;
use elb_operator::controller::backends::parse_provider_id;
use elb_operator::controller::healthcheck::{validate, validate_target};
use elb_operator::controller::loadbalancer::report::error_reason;
use elb_operator::crd::healthcheck::{TARGET_PORT_RULE, TARGET_SYNTAX_RULE};
use elb_operator::crd::HealthCheckSpec;
use elb_operator::elb::fuzzing::{decode, decode_input, parse_error, Answer, ACTIONS, STATUSES};
use proptest::prelude::*;
use serde_json::json;

/// The seed corpus of a fuzz target: the documentation-shaped answers it starts from.
fn seeds(target: &str) -> Vec<Vec<u8>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds").join(target);
    let mut files: Vec<PathBuf> =
        std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())).map(|e| e.unwrap().path()).collect();
    files.sort();
    files.into_iter().map(|f| std::fs::read(f).unwrap()).collect()
}

/// What a decoded input must be: an error answer is never a success, and every error is one
/// the client reports (with a condition reason).
fn check_outcome(data: &[u8]) -> Result<(), TestCaseError> {
    let Some(result) = decode_input(data) else { return Ok(()) };
    let status = STATUSES[usize::from(data[0]) / ACTIONS.len() % STATUSES.len()];
    match result {
        Ok(answer) => prop_assert_eq!(status, 200, "{:?}", answer),
        Err(e) => {
            prop_assert!(matches!(e, Error::Api { .. } | Error::UnexpectedResponse { .. } | Error::MalformedResponse { .. }), "{:?}", e);
            prop_assert!(!error_reason(&e).is_empty());
        }
    }
    Ok(())
}

/// An edit of a seed: bytes replaced, inserted or cut at a position.
#[derive(Debug, Clone)]
enum Edit {
    Replace(usize, Vec<u8>),
    Insert(usize, Vec<u8>),
    Cut(usize, usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    // Bytes that matter to XML: markup, entities, digits, and non-ASCII.
    let bytes = prop::collection::vec(prop_oneof![prop::sample::select(b"<>/&;#x\"'=!?[]-:0123456789 \n".to_vec()), any::<u8>(),], 1..6);
    prop_oneof![
        (any::<usize>(), bytes.clone()).prop_map(|(at, b)| Edit::Replace(at, b)),
        (any::<usize>(), bytes).prop_map(|(at, b)| Edit::Insert(at, b)),
        (any::<usize>(), 1usize..40).prop_map(|(at, n)| Edit::Cut(at, n)),
    ]
}

fn apply(seed: &[u8], edits: &[Edit]) -> Vec<u8> {
    let mut out = seed.to_vec();
    for e in edits {
        // Position 0 is the action/status selector: edits land in the body.
        let at = |p: usize, len: usize| 1 + p % len.max(1);
        match e {
            Edit::Replace(p, b) => {
                let i = at(*p, out.len() - 1).min(out.len());
                let end = (i + b.len()).min(out.len());
                out.splice(i..end, b.iter().copied());
            }
            Edit::Insert(p, b) => {
                let i = at(*p, out.len() - 1).min(out.len());
                out.splice(i..i, b.iter().copied());
            }
            Edit::Cut(p, n) => {
                let i = at(*p, out.len() - 1).min(out.len());
                let end = (i + n).min(out.len());
                out.drain(i..end);
            }
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Seeds of the fuzz corpus with random edits, under any action and status.
    #[test]
    fn edited_answers_end_in_an_answer_or_a_typed_error(
        seed in prop::sample::select(seeds("elb_answer")),
        selector in any::<u8>(),
        edits in prop::collection::vec(edit(), 0..8),
    ) {
        let mut data = apply(&seed, &edits);
        check_outcome(&data)?;
        data[0] = selector;
        check_outcome(&data)?;
    }

    /// Any bytes at all.
    #[test]
    fn arbitrary_bytes_end_in_an_answer_or_a_typed_error(data in prop::collection::vec(any::<u8>(), 0..300)) {
        check_outcome(&data)?;
        drop(parse_error(&String::from_utf8_lossy(&data)));
    }
}

/// A document nested deeper than any ELB answer, as a broken or hostile endpoint could send:
/// refused as unexpected, on a thread with the 2 MiB stack of tokio's workers (an
/// exhausted stack aborts the whole process, which a panic handler cannot catch).
#[test]
fn deeply_nested_answers_are_refused_within_a_worker_stack() {
    let depth = 200_000;
    let nested = format!("{}{}", "<member>".repeat(depth), "</member>".repeat(depth));
    let worker = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || {
            let answer = format!("<DescribeLoadBalancersResponse><DescribeLoadBalancersResult><LoadBalancerDescriptions>{nested}</LoadBalancerDescriptions></DescribeLoadBalancersResult></DescribeLoadBalancersResponse>");
            let error = format!("<ErrorResponse>{nested}<Error><Code>X</Code></Error></ErrorResponse>");
            (decode("DescribeLoadBalancers", 200, &answer).map(|_| ()), decode("DescribeLoadBalancers", 400, &error).map(|_| ()))
        })
        .unwrap();
    let (answer, error) = worker.join().unwrap();
    for result in [answer, error] {
        match result {
            Err(Error::UnexpectedResponse { .. }) => {}
            other => panic!("expected an unexpected-response error, got {other:?}"),
        }
    }
}

// ---------------------------------------------------------------------------------------
// What well-formed documents say is what is decoded

/// Text as it may come back from AWS: XML's special characters, non-ASCII, inner spaces.
fn text() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9<>&\"'é名:/._ -]{1,16}".prop_map(|s| s.trim().to_string()).prop_filter("not blank", |s| !s.is_empty())
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&apos;")
}

#[derive(Debug, Clone)]
struct Lb {
    name: String,
    listeners: Vec<(u16, u16, Option<String>)>,
    zones: Vec<String>,
    instances: Vec<String>,
    target: Option<String>,
}

fn lb() -> impl Strategy<Value = Lb> {
    (
        text(),
        prop::collection::vec((any::<u16>(), any::<u16>(), prop::option::of(text())), 0..4),
        prop::collection::vec(text(), 0..3),
        prop::collection::vec("i-[0-9a-f]{8,17}", 0..4),
        prop::option::of(text()),
    )
        .prop_map(|(name, listeners, zones, instances, target)| Lb { name, listeners, zones, instances, target })
}

fn members<T>(items: &[T], each: impl Fn(&T) -> String) -> String {
    items.iter().map(|i| format!("<member>{}</member>", each(i))).collect()
}

fn describe_document(lbs: &[Lb], marker: Option<&str>) -> String {
    let lb = |l: &Lb| {
        let listeners = members(&l.listeners, |(port, instance_port, cert)| {
            let cert = cert.as_deref().map(|c| format!("<SSLCertificateId>{}</SSLCertificateId>", escape(c))).unwrap_or_default();
            format!(
                "<Listener><Protocol>HTTP</Protocol><LoadBalancerPort>{port}</LoadBalancerPort>\
                 <InstanceProtocol>HTTP</InstanceProtocol><InstancePort> {instance_port} </InstancePort>{cert}</Listener><PolicyNames/>"
            )
        });
        let health = l.target.as_deref().map(|t| {
            format!("<HealthCheck><Target>{}</Target><Interval>30</Interval><Timeout>5</Timeout><HealthyThreshold>3</HealthyThreshold><UnhealthyThreshold>5</UnhealthyThreshold></HealthCheck>", escape(t))
        });
        format!(
            "<LoadBalancerName>{}</LoadBalancerName><ListenerDescriptions>{listeners}</ListenerDescriptions>\
             <AvailabilityZones>{}</AvailabilityZones><Instances>{}</Instances>{}<Scheme>internal</Scheme>",
            escape(&l.name),
            members(&l.zones, |z| escape(z)),
            members(&l.instances, |i| format!("<InstanceId>{i}</InstanceId>")),
            health.unwrap_or_default(),
        )
    };
    let marker = marker.map(|m| format!("<NextMarker>{}</NextMarker>", escape(m))).unwrap_or_default();
    format!(
        "<?xml version=\"1.0\"?><DescribeLoadBalancersResponse xmlns=\"http://elasticloadbalancing.amazonaws.com/doc/2012-06-01/\">\
         <DescribeLoadBalancersResult><LoadBalancerDescriptions>{}</LoadBalancerDescriptions>{marker}</DescribeLoadBalancersResult>\
         <ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata></DescribeLoadBalancersResponse>",
        members(lbs, lb)
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn described_load_balancers_are_read_back(lbs in prop::collection::vec(lb(), 0..4), marker in prop::option::of(text())) {
        let doc = describe_document(&lbs, marker.as_deref());
        let Ok(Answer::LoadBalancers { page, next_marker }) = decode("DescribeLoadBalancers", 200, &doc) else {
            return Err(TestCaseError::fail(format!("not decoded: {doc}")));
        };
        prop_assert_eq!(next_marker, marker);
        prop_assert_eq!(page.len(), lbs.len());
        for (got, want) in page.iter().zip(&lbs) {
            prop_assert_eq!(&got.name, &want.name);
            let ports: Vec<(u16, u16, Option<String>)> = got
                .listeners
                .iter()
                .map(|l| (l.listener.load_balancer_port, l.listener.instance_port, l.listener.ssl_certificate_id.clone()))
                .collect();
            prop_assert_eq!(&ports, &want.listeners);
            prop_assert_eq!(&got.availability_zones, &want.zones);
            prop_assert_eq!(&got.instances, &want.instances);
            prop_assert_eq!(got.health_check.as_ref().map(|h| h.target.clone()), want.target.clone());
        }
    }

    #[test]
    fn instance_health_and_tags_are_read_back(
        states in prop::collection::vec(("i-[0-9a-f]{8}", prop::sample::select(vec!["InService", "OutOfService", "Unknown"]), prop::option::of(text())), 0..5),
        tags in prop::collection::btree_map(text(), prop::option::of(text()), 0..5),
    ) {
        let doc = format!(
            "<DescribeInstanceHealthResponse><DescribeInstanceHealthResult><InstanceStates>{}</InstanceStates></DescribeInstanceHealthResult></DescribeInstanceHealthResponse>",
            members(&states, |(id, state, description)| format!(
                "<InstanceId>{id}</InstanceId><State>{state}</State>{}",
                description.as_deref().map(|d| format!("<Description>{}</Description>", escape(d))).unwrap_or_default()
            ))
        );
        let Ok(Answer::InstanceHealth(got)) = decode("DescribeInstanceHealth", 200, &doc) else {
            return Err(TestCaseError::fail(format!("not decoded: {doc}")));
        };
        let got: Vec<(String, String, Option<String>)> =
            got.into_iter().map(|s| (s.instance_id, s.state.as_str().to_string(), s.description)).collect();
        let want: Vec<(String, String, Option<String>)> = states.iter().map(|(i, s, d)| (i.clone(), s.to_string(), d.clone())).collect();
        prop_assert_eq!(got, want);

        let tag_list: Vec<(String, Option<String>)> = tags.clone().into_iter().collect();
        let doc = format!(
            "<DescribeTagsResponse><DescribeTagsResult><TagDescriptions><member><LoadBalancerName>lb</LoadBalancerName><Tags>{}</Tags></member></TagDescriptions></DescribeTagsResult></DescribeTagsResponse>",
            members(&tag_list, |(k, v)| format!(
                "<Key>{}</Key>{}",
                escape(k),
                v.as_deref().map(|v| format!("<Value>{}</Value>", escape(v))).unwrap_or_default()
            ))
        );
        let Ok(Answer::Tags(got)) = decode("DescribeTags", 200, &doc) else {
            return Err(TestCaseError::fail(format!("not decoded: {doc}")));
        };
        let got: Vec<(String, Option<String>)> = got["lb"].iter().map(|t| (t.key.clone(), t.value.clone())).collect();
        prop_assert_eq!(got, tag_list);
    }

    /// Error documents of both shapes, under any status the client treats as an error.
    #[test]
    fn error_documents_are_read_back(code in "[A-Za-z.]{1,20}", message in text(), ec2_shape in any::<bool>(), status in prop::sample::select(vec![400u16, 403, 500, 503])) {
        let error = format!("<Error><Type>Sender</Type><Code>{code}</Code><Message>{}</Message></Error>", escape(&message));
        let doc = if ec2_shape {
            format!("<Response><Errors>{error}</Errors><RequestID>rid</RequestID></Response>")
        } else {
            format!("<ErrorResponse>{error}<RequestId>rid</RequestId></ErrorResponse>")
        };
        let parsed = parse_error(&doc).expect("an error document");
        prop_assert_eq!((&parsed.code, &parsed.message, parsed.request_id.as_deref()), (&code, &message, Some("rid")));
        match decode("DescribeLoadBalancers", status, &doc) {
            Err(Error::Api { code: c, message: m, status: s, .. }) => prop_assert_eq!((c, m, s), (code, message, status)),
            other => return Err(TestCaseError::fail(format!("{other:?}"))),
        }
    }
}

// ---------------------------------------------------------------------------------------
// providerID and health-check targets

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn provider_ids_are_parsed_or_refused(s in "(aws:/{0,4})?[a-z0-9/-]{0,12}(/i-[0-9a-zA-Z]{0,10})?") {
        if let Some((zone, id)) = parse_provider_id(&s) {
            prop_assert!(!zone.is_empty() && !zone.contains('/'), "{} -> {}", s, zone);
            prop_assert!(id.starts_with("i-") && id.len() > 2 && !id.contains('/'), "{} -> {}", s, id);
            let tail = format!("{zone}/{id}");
            prop_assert!(s.ends_with(&tail), "{} -> {}", s, tail);
        }
    }

    #[test]
    fn node_provider_ids_give_their_zone_and_instance(zone in "[a-z]{2}-[a-z]{4,9}-[0-9][a-z]", id in "i-[0-9a-f]{8}([0-9a-f]{9})?") {
        prop_assert_eq!(parse_provider_id(&format!("aws:///{zone}/{id}")), Some((zone.clone(), id.clone())));
        prop_assert_eq!(parse_provider_id(&format!("aws://{zone}/{id}")), Some((zone, id)));
    }

    #[test]
    fn arbitrary_provider_ids_never_panic(s in any::<String>()) {
        drop(parse_provider_id(&s));
    }

    #[test]
    fn arbitrary_health_check_targets_never_panic(target in any::<String>()) {
        drop(validate_target(&target));
    }
}

proptest! {
    // Fewer cases: each evaluates CEL.
    #![proptest_config(ProptestConfig::with_cases(500))]

    /// The controller accepts exactly the targets the CRD's rules accept (the same shape,
    /// port range and length), so an old object is judged as apply judges a new one.
    #[test]
    fn health_check_targets_are_judged_as_the_crd_judges_them(
        target in "(TCP|SSL|HTTP|HTTPS|http|UDP|)(:|/|)[0-9+-]{0,7}(/[ -~é\n]{0,6})?[ -~]{0,2}",
        interval in -3i32..400,
        timeout in -3i32..70,
    ) {
        let controller = validate_target(&target).is_ok();
        prop_assert_eq!(controller, crd_accepts_target(&target), "{:?}", target);
        let spec = HealthCheckSpec { target: target.clone(), interval_seconds: interval, timeout_seconds: timeout, healthy_threshold: 3, unhealthy_threshold: 5 };
        match validate(&spec) {
            Ok(hc) => {
                prop_assert!(controller && (5..=300).contains(&hc.interval) && (2..=60).contains(&hc.timeout) && hc.timeout < hc.interval);
            }
            Err(message) => prop_assert!(!message.is_empty()),
        }
    }
}

#[test]
fn long_health_check_targets_are_judged_by_length() {
    let at = |n: usize| format!("HTTP:80/{}", "a".repeat(n - 8));
    assert!(validate_target(&at(1024)).is_ok());
    assert!(crd_accepts_target(&at(1024)));
    assert!(validate_target(&at(1025)).unwrap_err().contains("longer than 1024"));
    assert!(!crd_accepts_target(&at(1025)));
}

thread_local! {
    static CEL: kube::core::cel::Validator = kube::core::cel::Validator::new();
    /// The HealthCheck CRD's target schema: maxLength 1024 and its two CEL rules.
    static TARGET_SCHEMA: kube::core::cel::CompiledSchema = kube::core::cel::compile_schema(&json!({
        "type": "string", "maxLength": 1024, "x-kubernetes-validations": [
            {"rule": TARGET_SYNTAX_RULE, "message": "syntax"},
            {"rule": TARGET_PORT_RULE, "message": "port"},
        ]}));
}

/// The HealthCheck CRD's judgement of a target: its length (the schema's maxLength counts
/// characters), then its CEL rules.
fn crd_accepts_target(target: &str) -> bool {
    target.chars().count() <= 1024 && TARGET_SCHEMA.with(|schema| CEL.with(|v| v.validate_compiled(schema, &json!(target), None))).is_ok()
}
