//! STS AssumeRole (`spec.roleArn`): a refused role is a typed error naming the role and
//! AWS's message, never a crash, and no secret reaches the message.

use elb_operator::elb::credentials::assume_role::AssumeRole;
use elb_operator::elb::credentials::ProvideCredentials;
use elb_operator::elb::*;

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
