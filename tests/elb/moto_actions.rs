//! Every action round-trips against moto: the client reads back what it wrote.
//!
//! Where moto differs from AWS, a comment says so.

use elb_operator::aws::*;
use elb_operator::elb::*;
use elb_operator::telemetry::Metrics;

use crate::common::{calls, client, config, counted, strings, MOTO};

fn listener(port: u16, protocol: Protocol, instance_port: u16, instance_protocol: Protocol, certificate: Option<&str>) -> Listener {
    Listener { load_balancer_port: port, protocol, instance_port, instance_protocol, ssl_certificate_id: certificate.map(String::from) }
}

fn http_listener(port: u16, instance_port: u16) -> Listener {
    listener(port, Protocol::HTTP, instance_port, Protocol::HTTP, None)
}

fn input(name: &str, zones: &[&str]) -> CreateLoadBalancerInput {
    CreateLoadBalancerInput {
        name: name.into(),
        listeners: vec![http_listener(80, 8080)],
        availability_zones: strings(zones),
        ..Default::default()
    }
}

async fn describe_one(c: &Client, name: &str) -> LoadBalancerDescription {
    let mut all = c.describe_load_balancers(&[name.to_string()]).await.expect("describe");
    assert_eq!(all.len(), 1);
    all.remove(0)
}

#[tokio::test]
async fn create_describe_delete_round_trip() {
    let (c, metrics) = counted(config("us-east-1"));
    let mut inp = input("rt-create", &["us-east-1a", "us-east-1b"]);
    inp.listeners.push(listener(443, Protocol::TCP, 8443, Protocol::TCP, None));
    inp.scheme = Some(Scheme::Internal);
    // AWS allows a tag without a value, but moto answers HTTP 500 to one (KeyError 'Value'),
    // after creating the load balancer; so every tag here has a value.
    inp.tags = vec![Tag { key: "owner".into(), value: Some("team-a".into()) }, Tag { key: "flag".into(), value: Some(String::new()) }];
    let dns = c.create_load_balancer(&inp).await.expect("create");
    assert!(dns.starts_with("rt-create"), "{dns}");

    let lb = describe_one(&c, "rt-create").await;
    assert_eq!(lb.name, "rt-create");
    assert_eq!(lb.dns_name, dns);
    assert_eq!(lb.scheme, Scheme::Internal);
    let mut zones = lb.availability_zones.clone();
    zones.sort();
    assert_eq!(zones, strings(&["us-east-1a", "us-east-1b"]));
    let mut listeners: Vec<Listener> = lb.listeners.iter().map(|l| l.listener.clone()).collect();
    listeners.sort();
    assert_eq!(listeners, inp.listeners);

    let tags = c.describe_tags(&["rt-create".to_string()]).await.expect("tags");
    let mut got = tags["rt-create"].clone();
    got.sort();
    let mut want = inp.tags.clone();
    want.sort();
    assert_eq!(got, want);

    c.delete_load_balancer("rt-create").await.expect("delete");
    let err = c.describe_load_balancers(&["rt-create".to_string()]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    assert_eq!(err.code(), Some("LoadBalancerNotFound"));
    // Deleting what is gone succeeds in AWS (and in moto): deletion is idempotent.
    c.delete_load_balancer("rt-create").await.expect("delete again");

    let calls = calls(&metrics);
    assert_eq!(calls.attempts("CreateLoadBalancer"), 1);
    assert_eq!(calls.attempts("DeleteLoadBalancer"), 2);
    assert_eq!(calls.attempts("DescribeLoadBalancers"), 2);
    assert_eq!(calls.matching(is_mutating), 3);
    assert_eq!(calls.total(), 6, "{calls:?}");
}

#[tokio::test]
async fn listeners_are_added_and_removed_one_port_at_a_time() {
    let (c, metrics) = counted(config("us-east-1"));
    c.create_load_balancer(&input("rt-listeners", &["us-east-1a"])).await.unwrap();
    c.create_load_balancer_listeners("rt-listeners", &[http_listener(81, 8081), http_listener(82, 8082)]).await.unwrap();
    let ports = |lb: &LoadBalancerDescription| {
        let mut p: Vec<u16> = lb.listeners.iter().map(|l| l.listener.load_balancer_port).collect();
        p.sort();
        p
    };
    assert_eq!(ports(&describe_one(&c, "rt-listeners").await), vec![80, 81, 82]);

    let before = calls(&metrics);
    // moto breaks when one DeleteLoadBalancerListeners call names several ports; the
    // client sends one port per call, as it does against AWS.
    c.delete_load_balancer_listeners("rt-listeners", &[81, 82]).await.unwrap();
    assert_eq!(calls(&metrics).since(&before).attempts("DeleteLoadBalancerListeners"), 2);
    assert_eq!(ports(&describe_one(&c, "rt-listeners").await), vec![80]);

    let cert = "arn:aws:iam::123456789012:server-certificate/test-cert";
    let https = listener(443, Protocol::HTTPS, 8080, Protocol::HTTP, Some(cert));
    c.create_load_balancer_listeners("rt-listeners", &[https]).await.unwrap();
    let cert2 = "arn:aws:iam::123456789012:server-certificate/other-cert";
    c.set_load_balancer_listener_ssl_certificate("rt-listeners", 443, cert2).await.unwrap();
    let lb = describe_one(&c, "rt-listeners").await;
    let l443 = lb.listeners.iter().find(|l| l.listener.load_balancer_port == 443).expect("443");
    assert_eq!(l443.listener.ssl_certificate_id.as_deref(), Some(cert2));

    // HTTPS in front, plain HTTP to the instances (TLS offload). moto ignores
    // InstanceProtocol and reports the front-end protocol; AWS reports what was sent.
    let offload = listener(8443, Protocol::HTTPS, 8080, Protocol::HTTP, Some(cert));
    c.create_load_balancer_listeners("rt-listeners", std::slice::from_ref(&offload)).await.unwrap();
    let lb = describe_one(&c, "rt-listeners").await;
    let got = &lb.listeners.iter().find(|l| l.listener.load_balancer_port == 8443).expect("8443").listener;
    assert_eq!((&got.protocol, got.instance_port), (&Protocol::HTTPS, 8080));
    assert_eq!(got.instance_protocol, Protocol::HTTPS, "moto echoes the front-end protocol");
    c.delete_load_balancer("rt-listeners").await.unwrap();
}

#[tokio::test]
async fn health_check_round_trip() {
    let c = client("us-east-1");
    c.create_load_balancer(&input("rt-health", &["us-east-1a"])).await.unwrap();
    let hc = HealthCheck { target: "HTTP:8080/healthz".into(), interval: 15, timeout: 4, healthy_threshold: 3, unhealthy_threshold: 5 };
    assert_eq!(c.configure_health_check("rt-health", &hc).await.unwrap(), hc);
    assert_eq!(describe_one(&c, "rt-health").await.health_check, Some(hc));
    c.delete_load_balancer("rt-health").await.unwrap();
}

#[tokio::test]
async fn instances_register_report_health_and_deregister() {
    let c = client("us-east-1");
    c.create_load_balancer(&input("rt-instances", &["us-east-1a"])).await.unwrap();
    let ids = MOTO.run_instances(3, "us-east-1a");
    // moto's Register/Deregister responses nest the id list wrongly (`Instances` holds one
    // member without an `InstanceId`), so the returned list is read back with a describe;
    // the client's parsing of AWS's shape is covered by the wire unit tests.
    c.register_instances("rt-instances", &ids).await.unwrap();
    let mut registered = describe_one(&c, "rt-instances").await.instances;
    registered.sort();
    let mut want = ids.clone();
    want.sort();
    assert_eq!(registered, want);

    let health = c.describe_instance_health("rt-instances", &[]).await.unwrap();
    assert_eq!(health.len(), 3);
    assert!(health.iter().all(|h| h.state == HealthState::InService), "{health:?}");

    MOTO.stop_instances(&ids[..1]);
    let health = c.describe_instance_health("rt-instances", &[]).await.unwrap();
    let state = |id: &str| health.iter().find(|h| h.instance_id == id).map(|h| h.state.clone());
    assert_eq!(state(&ids[0]), Some(HealthState::OutOfService));
    assert_eq!(state(&ids[1]), Some(HealthState::InService));
    // Asking for one instance returns just that one.
    let one = c.describe_instance_health("rt-instances", &ids[1..2]).await.unwrap();
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].instance_id, ids[1]);

    c.deregister_instances("rt-instances", &ids[..2]).await.unwrap();
    assert_eq!(describe_one(&c, "rt-instances").await.instances, ids[2..].to_vec());
    MOTO.terminate_instances_in("us-east-1", &ids);
    c.delete_load_balancer("rt-instances").await.unwrap();
}

#[tokio::test]
async fn availability_zones_enable_and_disable() {
    let c = client("us-east-1");
    c.create_load_balancer(&input("rt-zones", &["us-east-1a"])).await.unwrap();
    let mut zones = c.enable_availability_zones("rt-zones", &strings(&["us-east-1b", "us-east-1c"])).await.unwrap();
    zones.sort();
    assert_eq!(zones, strings(&["us-east-1a", "us-east-1b", "us-east-1c"]));
    let zones = c.disable_availability_zones("rt-zones", &strings(&["us-east-1a", "us-east-1c"])).await.unwrap();
    assert_eq!(zones, strings(&["us-east-1b"]));
    assert_eq!(describe_one(&c, "rt-zones").await.availability_zones, strings(&["us-east-1b"]));
    c.delete_load_balancer("rt-zones").await.unwrap();
}

#[tokio::test]
async fn subnets_and_security_groups_of_a_vpc_load_balancer() {
    let region = "eu-west-1";
    let c = client(region);
    let subnets = MOTO.default_subnets(region);
    assert!(subnets.len() >= 2, "{subnets:?}");
    let sg = MOTO.create_security_group(region, "rt-vpc-sg");
    let inp = CreateLoadBalancerInput {
        name: "rt-vpc".into(),
        listeners: vec![http_listener(80, 8080)],
        subnets: vec![subnets[0].clone()],
        security_groups: vec![sg.clone()],
        ..Default::default()
    };
    c.create_load_balancer(&inp).await.unwrap();
    let lb = describe_one(&c, "rt-vpc").await;
    assert_eq!(lb.subnets, vec![subnets[0].clone()]);
    assert_eq!(lb.security_groups, vec![sg.clone()]);
    assert!(lb.vpc_id.is_some());

    let mut attached = c.attach_subnets("rt-vpc", &[subnets[1].clone()]).await.unwrap();
    attached.sort();
    let mut want = subnets[..2].to_vec();
    want.sort();
    assert_eq!(attached, want);
    let left = c.detach_subnets("rt-vpc", &[subnets[0].clone()]).await.unwrap();
    assert_eq!(left, vec![subnets[1].clone()]);

    let sg2 = MOTO.create_security_group(region, "rt-vpc-sg2");
    let groups = c.apply_security_groups("rt-vpc", std::slice::from_ref(&sg2)).await.unwrap();
    assert_eq!(groups, vec![sg2.clone()]);
    let lb = describe_one(&c, "rt-vpc").await;
    assert_eq!(lb.subnets, vec![subnets[1].clone()]);
    assert_eq!(lb.security_groups, vec![sg2]);
    c.delete_load_balancer("rt-vpc").await.unwrap();
}

#[tokio::test]
async fn attributes_round_trip() {
    let c = client("us-east-1");
    c.create_load_balancer(&input("rt-attrs", &["us-east-1a"])).await.unwrap();
    let want = LoadBalancerAttributes {
        cross_zone_load_balancing: Some(true),
        connection_draining: Some(ConnectionDraining { enabled: true, timeout: Some(120) }),
        idle_timeout: Some(90),
        access_log: Some(AccessLog {
            enabled: true,
            s3_bucket_name: Some("logs-bucket".into()),
            s3_bucket_prefix: Some("elb/".into()),
            emit_interval: Some(5),
        }),
    };
    let after = c.modify_load_balancer_attributes("rt-attrs", &want).await.unwrap();
    assert_eq!(after.cross_zone_load_balancing, Some(true));
    let got = c.describe_load_balancer_attributes("rt-attrs").await.unwrap();
    assert_eq!(got, want);

    // `None` leaves an attribute alone.
    let only_idle = LoadBalancerAttributes { idle_timeout: Some(30), ..Default::default() };
    c.modify_load_balancer_attributes("rt-attrs", &only_idle).await.unwrap();
    let got = c.describe_load_balancer_attributes("rt-attrs").await.unwrap();
    assert_eq!(got.idle_timeout, Some(30));
    assert_eq!(got.cross_zone_load_balancing, Some(true));
    assert_eq!(got.connection_draining, want.connection_draining);
    c.delete_load_balancer("rt-attrs").await.unwrap();
}

#[tokio::test]
async fn tags_add_remove_and_describe_in_batches_of_20() {
    // Own region: nothing else lives there.
    let (c, metrics) = counted(config("ap-southeast-2"));
    let names: Vec<String> = (0..25).map(|i| format!("rt-tags-{i:02}")).collect();
    for n in &names {
        c.create_load_balancer(&input(n, &["ap-southeast-2a"])).await.unwrap();
    }
    c.add_tags(&names[..1], &[Tag { key: "k1".into(), value: Some("v1".into()) }, Tag { key: "k2".into(), value: Some("v2".into()) }])
        .await
        .unwrap();
    for n in &names[1..] {
        c.add_tags(std::slice::from_ref(n), &[Tag { key: "k1".into(), value: Some(n.clone()) }]).await.unwrap();
    }
    c.remove_tags(&names[..1], &strings(&["k2"])).await.unwrap();

    let before = calls(&metrics);
    let tags = c.describe_tags(&names).await.unwrap();
    // 25 names: one call of 20 and one of 5.
    assert_eq!(calls(&metrics).since(&before).attempts("DescribeTags"), 2);
    assert_eq!(tags.len(), 25);
    assert_eq!(tags[&names[0]], vec![Tag { key: "k1".into(), value: Some("v1".into()) }]);
    for n in &names[1..] {
        assert_eq!(tags[n], vec![Tag { key: "k1".into(), value: Some(n.clone()) }]);
    }
    for n in &names {
        c.delete_load_balancer(n).await.unwrap();
    }
}

#[tokio::test]
async fn describe_follows_pagination_to_the_end() {
    // Own region so the listing holds only this test's load balancers.
    let region = "ca-central-1";
    let (c, metrics) = counted(config(region).with_page_size(2));
    let names: Vec<String> = (0..5).map(|i| format!("rt-page-{i}")).collect();
    for n in &names {
        c.create_load_balancer(&input(n, &["ca-central-1a"])).await.unwrap();
    }
    let before = calls(&metrics);
    let mut got: Vec<String> = c.describe_load_balancers(&[]).await.unwrap().into_iter().map(|l| l.name).collect();
    got.sort();
    assert_eq!(got, names);
    // 5 load balancers, 2 per page: 3 pages.
    assert_eq!(calls(&metrics).since(&before).attempts("DescribeLoadBalancers"), 3);
    for n in &names {
        c.delete_load_balancer(n).await.unwrap();
    }
}

#[tokio::test]
async fn policies_for_stickiness_and_proxy_protocol() {
    let c = client("us-east-1");
    c.create_load_balancer(&input("rt-policies", &["us-east-1a"])).await.unwrap();
    c.create_lb_cookie_stickiness_policy("rt-policies", "lb-sticky", Some(300)).await.unwrap();
    c.create_app_cookie_stickiness_policy("rt-policies", "app-sticky", "SESSIONID").await.unwrap();
    let attrs = [PolicyAttribute { name: "ProxyProtocol".into(), value: "true".into() }];
    c.create_load_balancer_policy("rt-policies", "proxy", "ProxyProtocolPolicyType", &attrs).await.unwrap();

    let lb = describe_one(&c, "rt-policies").await;
    assert_eq!(
        lb.policies.lb_cookie_stickiness,
        vec![LbCookieStickinessPolicy { policy_name: "lb-sticky".into(), cookie_expiration_period: Some(300) }]
    );
    assert_eq!(
        lb.policies.app_cookie_stickiness,
        vec![AppCookieStickinessPolicy { policy_name: "app-sticky".into(), cookie_name: "SESSIONID".into() }]
    );
    assert!(lb.policies.other_policies.contains(&"proxy".to_string()), "{:?}", lb.policies);

    let described = c.describe_load_balancer_policies("rt-policies", &strings(&["proxy"])).await.unwrap();
    assert_eq!(described.len(), 1);
    assert_eq!(described[0].policy_type_name, "ProxyProtocolPolicyType");
    assert_eq!(described[0].attributes, attrs.to_vec());

    c.set_load_balancer_policies_of_listener("rt-policies", 80, &strings(&["lb-sticky"])).await.unwrap();
    c.set_load_balancer_policies_for_backend_server("rt-policies", 8080, &strings(&["proxy"])).await.unwrap();
    let lb = describe_one(&c, "rt-policies").await;
    assert_eq!(lb.listeners[0].policy_names, strings(&["lb-sticky"]));
    assert_eq!(lb.backend_server_descriptions, vec![BackendServerDescription { instance_port: 8080, policy_names: strings(&["proxy"]) }]);

    // An empty list removes the listener's policies.
    c.set_load_balancer_policies_of_listener("rt-policies", 80, &[]).await.unwrap();
    assert!(describe_one(&c, "rt-policies").await.listeners[0].policy_names.is_empty());
    c.delete_load_balancer_policy("rt-policies", "app-sticky").await.unwrap();
    let lb = describe_one(&c, "rt-policies").await;
    assert!(lb.policies.app_cookie_stickiness.is_empty());
    c.delete_load_balancer("rt-policies").await.unwrap();
}

#[tokio::test]
async fn moto_error_codes_map_to_typed_errors() {
    let (c, metrics) = counted(config("us-east-1"));
    c.create_load_balancer(&input("rt-errors", &["us-east-1a"])).await.unwrap();

    let dup = c.create_load_balancer(&input("rt-errors", &["us-east-1a"])).await.unwrap_err();
    assert_eq!(dup.kind(), ErrorKind::Duplicate, "{dup}");

    let missing = c.describe_load_balancers(&strings(&["rt-errors-missing"])).await.unwrap_err();
    assert_eq!(missing.kind(), ErrorKind::NotFound, "{missing}");
    match &missing {
        Error::Api { status, request_id, .. } => {
            assert_eq!(*status, 400);
            assert!(request_id.is_some());
        }
        other => panic!("{other:?}"),
    }

    let tags_missing = c.describe_tags(&strings(&["rt-errors-missing"])).await.unwrap_err();
    assert_eq!(tags_missing.kind(), ErrorKind::NotFound, "{tags_missing}");

    // Terminal: a listener that clashes with an existing one on the same port.
    let clash = c.create_load_balancer_listeners("rt-errors", &[http_listener(80, 9999)]).await.unwrap_err();
    assert_eq!(clash.kind(), ErrorKind::Duplicate, "{clash}");

    // Terminal: validation errors only a change of input can fix.
    let no_listeners = CreateLoadBalancerInput { listeners: vec![], ..input("rt-errors-empty", &["us-east-1a"]) };
    let err = c.create_load_balancer(&no_listeners).await.unwrap_err();
    assert_eq!((err.kind(), err.code()), (ErrorKind::Terminal, Some("ValidationError")), "{err}");
    let bad_hc = HealthCheck { target: "bogus".into(), interval: 30, timeout: 5, healthy_threshold: 2, unhealthy_threshold: 2 };
    let err = c.configure_health_check("rt-errors", &bad_hc).await.unwrap_err();
    assert_eq!((err.kind(), err.code()), (ErrorKind::Terminal, Some("ValidationError")), "{err}");
    let err = c.describe_load_balancer_policies("rt-errors", &strings(&["no-such-policy"])).await.unwrap_err();
    assert_eq!((err.kind(), err.code()), (ErrorKind::Terminal, Some("PolicyNotFound")), "{err}");

    // Errors are not retried: one attempt each.
    let calls = calls(&metrics);
    assert_eq!(calls.attempts("DescribeLoadBalancers"), 1);
    assert_eq!(calls.attempts("CreateLoadBalancer"), 3, "two creates and the duplicate: no retries");
    c.delete_load_balancer("rt-errors").await.unwrap();
}

#[tokio::test]
async fn moto_answers_some_unknown_load_balancer_calls_with_html_500() {
    // AWS answers `LoadBalancerNotFound` for these. moto crashes on the missing load
    // balancer and answers an HTML 500 page, which the client reports as a retryable
    // unexpected response naming the status (after its three attempts).
    let retry = RetryConfig { initial_backoff: std::time::Duration::from_millis(1), ..Default::default() };
    let (c, metrics) = counted(config("us-east-1").with_retry(retry));
    let err = c.describe_load_balancer_attributes("rt-no-such-lb").await.unwrap_err();
    assert!(matches!(&err, Error::UnexpectedResponse { status: 500, .. }), "{err:?}");
    assert_eq!(err.kind(), ErrorKind::Retryable);
    assert!(err.to_string().contains("HTTP 500"), "{err}");
    assert_eq!(calls(&metrics).outcome("DescribeLoadBalancerAttributes", "retryable"), 3);
    // Calls that moto does check answer LoadBalancerNotFound, as AWS does.
    let err = c.describe_instance_health("rt-no-such-lb", &[]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err:?}");
}

#[tokio::test]
async fn clients_keep_one_client_per_region() {
    // Every region's client counts into the metrics of the base configuration.
    let metrics = Metrics::new();
    let clients = Clients::new(config("us-east-1").with_metrics(metrics.elb.clone()));
    let east = clients.get("us-east-1").unwrap();
    assert!(std::sync::Arc::ptr_eq(&east, &clients.get("us-east-1").unwrap()));
    assert!(std::sync::Arc::ptr_eq(&east, &clients.get("").unwrap()), "empty means the base region");
    let west = clients.get("us-west-2").unwrap();
    assert_eq!(west.region(), "us-west-2");
    west.create_load_balancer(&input("rt-regions", &["us-west-2a"])).await.unwrap();
    assert_eq!(west.describe_load_balancers(&strings(&["rt-regions"])).await.unwrap().len(), 1);
    // The same name does not exist in the other region: requests are scoped by region.
    let err = east.describe_load_balancers(&strings(&["rt-regions"])).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert_eq!(calls(&metrics).attempts("DescribeLoadBalancers"), 2);
    west.delete_load_balancer("rt-regions").await.unwrap();
}
