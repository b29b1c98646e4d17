//! STS AssumeRole (`spec.roleArn`): a refused role is a typed error naming the role and
//! AWS's message, never a crash, and no secret reaches the message.

use elb_operator::aws::credentials::assume_role::AssumeRole;
use elb_operator::aws::credentials::ProvideCredentials;
use elb_operator::aws::*;
use elb_operator::elb::*;

use crate::common;
use crate::fault_server::{FaultServer, Reply};

#[tokio::test]
async fn a_refused_assume_role_names_the_role_and_the_aws_message() {
    let denied = r#"<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>User: arn:aws:iam::123456789012:role/operator is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::111111111111:role/elb</Message></Error><RequestId>r-1</RequestId></ErrorResponse>"#;
    let server = FaultServer::start(vec![Reply::xml(403, denied)]).await;
    let source = SharedCredentials::from_keys("AKIDSOURCE", "source-secret-value", None);
    let role = AssumeRole::new("arn:aws:iam::111111111111:role/elb", Some("ext-1"), "elb-operator-test", source, &server.url, "us-east-1")
        .unwrap();
    let err = role.provide().await.unwrap_err();
    match &err {
        Error::AssumeRoleFailed { role_arn, message } => {
            assert_eq!(role_arn, "arn:aws:iam::111111111111:role/elb");
            assert!(message.starts_with("AccessDenied: User:"), "{message}");
        }
        other => panic!("expected AssumeRoleFailed, got {other:?}"),
    }
    assert!(!err.to_string().contains("source-secret-value"));
    assert_eq!(elb_operator::controller::loadbalancer::report::error_reason(&err), "AssumeRoleFailed");
    let sent = &server.received()[0];
    assert_eq!(sent.param("Action").as_deref(), Some("AssumeRole"));
    assert_eq!(sent.param("ExternalId").as_deref(), Some("ext-1"));
    assert!(
        sent.header("authorization").is_some_and(|a| a.contains("AKIDSOURCE/") && a.contains("/sts/aws4_request")),
        "signed for STS with the source keys"
    );
}

/// The tenant's sessions, as moto's STS receives them: the session tags and name that a
/// role's trust policy tells namespaces apart by, one session per (role, external id,
/// namespace) whatever the region.
#[tokio::test]
async fn assumed_sessions_carry_the_tenant_tags_and_name() {
    let sts = FaultServer::forwarding(&common::MOTO.endpoint).await;
    let mut base = common::config("us-east-1");
    base.sts_endpoint = Some(sts.url.clone());
    let clients = Clients::new(base).with_session_name("elb-operator-prod".into());
    let role = Role { arn: "arn:aws:iam::123456789012:role/tenant-lb".into(), external_id: Some("ext-a".into()) };
    let team_a = Tenant::new("prod", "team-a");
    let long = Tenant::new("prod", format!("{}-b", "n".repeat(60)));
    let long2 = Tenant::new("prod", format!("{}-c", "n".repeat(60)));
    for (region, tenant) in [("us-east-1", &team_a), ("eu-west-1", &team_a), ("us-east-1", &long), ("us-east-1", &long2)] {
        let client = clients.get_for(region, Some(&role), Some(tenant)).unwrap();
        client.describe_load_balancers(&[]).await.unwrap_or_else(|e| panic!("{region} as {tenant:?}: {e}"));
    }
    let assumed: Vec<_> = sts.received().into_iter().filter(|r| r.param("Action").as_deref() == Some("AssumeRole")).collect();
    assert_eq!(assumed.len(), 3, "one session per tenant, shared by its regions");
    let first = &assumed[0];
    assert_eq!(first.param("RoleArn").as_deref(), Some(role.arn.as_str()));
    assert_eq!(first.param("ExternalId").as_deref(), Some("ext-a"));
    assert_eq!(first.param("RoleSessionName").as_deref(), Some("elb-operator-prod-team-a"));
    let tags = |r: &crate::fault_server::Received| {
        (1..=3)
            .filter_map(|i| Some((r.param(&format!("Tags.member.{i}.Key"))?, r.param(&format!("Tags.member.{i}.Value"))?)))
            .collect::<Vec<_>>()
    };
    let expected =
        |ns: &str| vec![("elb.operator.dev/cluster".to_string(), "prod".to_string()), ("elb.operator.dev/namespace".into(), ns.into())];
    assert_eq!(tags(first), expected("team-a"));
    assert_eq!(tags(&assumed[1]), expected(&long.namespace));
    let (n1, n2) = (assumed[1].param("RoleSessionName").unwrap(), assumed[2].param("RoleSessionName").unwrap());
    assert_eq!((n1.len(), n2.len()), (64, 64), "cut to STS's limit: {n1} {n2}");
    assert_ne!(n1, n2, "long names stay distinct");
    assert!(n1.starts_with("elb-operator-prod-nnnn"), "{n1}");

    // Evicted, the scope's next client assumes the role again.
    assert!(clients.evict("us-east-1", Some(&role), Some(&team_a)));
    assert!(clients.evict("eu-west-1", Some(&role), Some(&team_a)));
    clients.get_for("us-east-1", Some(&role), Some(&team_a)).unwrap().describe_load_balancers(&[]).await.unwrap();
    let again = sts.received().into_iter().filter(|r| r.param("Action").as_deref() == Some("AssumeRole")).count();
    assert_eq!(again, 4, "evicted credentials are not reused");
}
