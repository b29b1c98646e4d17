//! End-to-end suite: moto + a Kubernetes API + the operator binary, driven by kubectl and
//! kube-rs. Runs against the in-memory API stand-in by default; with `E2E_KUBECONFIG` set it
//! runs unchanged against that cluster (and with `E2E_ELB_ENDPOINT` plus AWS credentials in
//! the environment, against that ELB endpoint instead of a local moto).

mod world;

use std::collections::BTreeSet;

use elb_operator::elb::{ElbApi, Listener};
use serde_json::json;
use world::{eventually, repo_path, World, REGION};

fn yaml_status_condition(lb: &serde_json::Value, ty: &str) -> Option<(String, String, String)> {
    lb["status"]["conditions"].as_array()?.iter().find(|c| c["type"] == ty).map(|c| {
        (
            c["status"].as_str().unwrap_or_default().to_string(),
            c["reason"].as_str().unwrap_or_default().to_string(),
            c["message"].as_str().unwrap_or_default().to_string(),
        )
    })
}

fn set(v: &[String]) -> BTreeSet<String> {
    v.iter().cloned().collect()
}

fn to_set(v: &[&str]) -> BTreeSet<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// The boto tutorial, declaratively: create, register, zones, scale, health, health check
/// change, delete — each step checked against what moto reports.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tutorial_converges_and_follows_edits() {
    let mut w = World::start().await;
    let (node_a, pod_a, inst_a) = w.node_with_pod("us-east-1a", "web").await;
    let (_node_b, _pod_b, inst_b) = w.node_with_pod("us-east-1b", "web").await;
    w.start_operator();
    w.kubectl_ok(&["apply", "-f", &repo_path("examples/tutorial.yaml").to_string_lossy()]);
    w.kubectl_ok(&["wait", "--for=condition=Ready", "loadbalancer/my-lb", "--timeout=90s"]);

    let lb = w.get_json("loadbalancer/my-lb");
    let name = lb["status"]["loadBalancerName"].as_str().expect("status.loadBalancerName").to_string();
    let elb = w.describe(&name).await.expect("the ELB exists in moto");
    assert_eq!(lb["status"]["dnsName"].as_str(), Some(elb.dns_name.as_str()), "status.dnsName is moto's");
    assert_eq!(set(&elb.availability_zones), to_set(&["us-east-1a", "us-east-1b"]));
    let ports: BTreeSet<(u16, u16, String)> =
        elb.listeners.iter().map(|l| (l.listener.load_balancer_port, l.listener.instance_port, l.listener.protocol.to_string())).collect();
    assert_eq!(ports, [(80, 8080, "HTTP".to_string()), (443, 8443, "TCP".to_string())].into_iter().collect());
    let hc = elb.health_check.clone().expect("health check configured");
    assert_eq!((hc.target.as_str(), hc.interval, hc.healthy_threshold, hc.unhealthy_threshold), ("HTTP:8080/health", 20, 3, 5));
    assert_eq!(set(&elb.instances), to_set(&[&inst_a, &inst_b]));

    // Both instances are running in moto's EC2, so status shows them InService.
    eventually("both instances InService in status", &w, || async {
        let lb = w.get_json("loadbalancer/my-lb");
        let states: Vec<(String, String)> = lb["status"]["instances"]
            .as_array()?
            .iter()
            .map(|i| (i["instanceId"].as_str().unwrap_or_default().into(), i["state"].as_str().unwrap_or_default().into()))
            .collect();
        let want: BTreeSet<(String, String)> =
            [(inst_a.clone(), "InService".to_string()), (inst_b.clone(), "InService".to_string())].into_iter().collect();
        (states.into_iter().collect::<BTreeSet<_>>() == want && lb["status"]["healthy"] == "2/2").then_some(())
    })
    .await;

    // Zones: disable us-east-1a, enable us-east-1c.
    w.kubectl_ok(&["patch", "loadbalancer/my-lb", "--type=merge", "-p", r#"{"spec":{"availabilityZones":["us-east-1b","us-east-1c"]}}"#]);
    eventually("moto's zones to follow the spec", &w, || async {
        let elb = w.describe(&name).await?;
        (set(&elb.availability_zones) == to_set(&["us-east-1b", "us-east-1c"])).then_some(())
    })
    .await;

    // Scale the pods off node A: its instance is deregistered.
    w.delete_pod(&pod_a).await;
    eventually("the instance of the emptied node to be deregistered", &w, || async {
        let elb = w.describe(&name).await?;
        (set(&elb.instances) == to_set(&[&inst_b])).then_some(())
    })
    .await;
    let _ = node_a;

    // Stop instance B in EC2: status reports it OutOfService.
    w.moto().stop_instances(std::slice::from_ref(&inst_b));
    eventually("the stopped instance to show OutOfService", &w, || async {
        let lb = w.get_json("loadbalancer/my-lb");
        let inst = lb["status"]["instances"].as_array()?.iter().find(|i| i["instanceId"] == inst_b.as_str())?.clone();
        (inst["state"] == "OutOfService").then_some(())
    })
    .await;

    // Change the HealthCheck: the ELB's health check follows.
    w.kubectl_ok(&["patch", "healthcheck/instance-health", "--type=merge", "-p", r#"{"spec":{"intervalSeconds":45,"target":"TCP:8080"}}"#]);
    eventually("the ELB health check to follow the HealthCheck", &w, || async {
        let hc = w.describe(&name).await?.health_check?;
        (hc.interval == 45 && hc.target == "TCP:8080").then_some(())
    })
    .await;

    // kubectl describe shows the operator's events.
    let described = w.kubectl_ok(&["describe", "loadbalancer/my-lb"]);
    assert!(described.contains("Events:"), "describe output:\n{described}");
    assert!(described.contains("Created"), "a creation event is listed:\n{described}");

    // Delete: the finalizer removes the ELB, then the resource goes.
    w.kubectl_ok(&["delete", "loadbalancer/my-lb", "--timeout=60s"]);
    assert!(w.describe(&name).await.is_none(), "the ELB is gone from moto");
    let out = w.kubectl(&["get", "loadbalancer/my-lb"]);
    assert!(!out.status.success(), "the resource is gone");
}

/// The backend reachability check as a user sees it: an instance whose security group has
/// no rule for the ELB's group makes `BackendsReachable` False (`PortsClosed`, naming
/// `instance:port`) with a Warning event; once the rule is added in EC2, it turns True at
/// the next check. Ready does not depend on it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backend_reachability_follows_security_group_rules() {
    let mut w = World::start().await;
    let region = "us-east-1";
    let elb_sg = w.moto().create_security_group(region, &format!("elb-{}", w.id));
    let web_sg = w.moto().create_security_group(region, &format!("web-{}", w.id));
    let instance = w.moto().run_instances_in_groups(1, "us-east-1a", std::slice::from_ref(&web_sg)).remove(0);
    let node = format!("{}-{instance}", w.id);
    w.create_node(&node, "us-east-1a", Some(&format!("aws:///us-east-1a/{instance}"))).await;
    w.create_ready_pod("web-reach", &node, "reach").await;
    w.start_operator();
    let spec = format!("  securityGroups: [{elb_sg}]\n  backends:\n    podSelector:\n      matchLabels: {{app: reach}}\n");
    let out = w.apply_yaml(&lb_yaml("web", &spec));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    w.kubectl_ok(&["wait", "--for=condition=BackendsReachable=false", "loadbalancer/web", "--timeout=90s"]);
    let lb = w.get_json("loadbalancer/web");
    let (_, reason, message) = yaml_status_condition(&lb, "BackendsReachable").expect("BackendsReachable condition");
    assert_eq!(reason, "PortsClosed");
    assert_eq!(message, format!("no security group rule admits the load balancer on {instance}:8080"));
    let (ready, _, _) = yaml_status_condition(&lb, "Ready").expect("Ready condition");
    assert_eq!(ready, "True", "closed ports do not make the resource not Ready (moto reports the instance InService)");
    println!("{}", w.kubectl_ok(&["get", "loadbalancer/web", "-o", "wide"]));
    let described = w.kubectl_ok(&["describe", "loadbalancer/web"]);
    println!("{described}");
    assert!(
        described.lines().any(|l| l.contains("Warning") && l.contains("PortsClosed") && l.contains(&format!("{instance}:8080"))),
        "a PortsClosed Warning event:\n{described}"
    );

    // The rule the message asks for: the ELB's group may reach port 8080.
    w.moto().authorize_ingress(region, &web_sg, "tcp", 8080, 8080, &elb_sg);
    w.kubectl_ok(&["wait", "--for=condition=BackendsReachable=true", "loadbalancer/web", "--timeout=90s"]);
    let lb = w.get_json("loadbalancer/web");
    let (_, reason, message) = yaml_status_condition(&lb, "BackendsReachable").unwrap();
    assert_eq!(
        (reason.as_str(), message.as_str()),
        ("PortsOpen", "the security groups of 1 instance admit the load balancer on port 8080")
    );
    println!(
        "{}",
        w.kubectl_ok(&[
            "get",
            "loadbalancer/web",
            "-o",
            "jsonpath={range .status.conditions[*]}{.type}={.status} {.reason}: {.message}{\"\\n\"}{end}"
        ])
    );
    w.kubectl_ok(&["delete", "loadbalancer/web", "--timeout=60s"]);
}

/// Every manifest in examples/invalid is refused by `kubectl apply` with a message naming
/// the problem (the `# expect:` line of the file).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_manifests_are_refused_at_apply() {
    let w = World::start().await;
    let dir = repo_path("examples/invalid");
    let mut files: Vec<_> =
        std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|e| e == "yaml")).collect();
    files.sort();
    assert!(files.len() >= 15, "at least 15 invalid manifests, found {}", files.len());
    let mut failures = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let expect = expectation(&text).unwrap_or_else(|| panic!("{} has no '# expect:' line", file.display()));
        let out = w.kubectl(&["apply", "-f", &file.to_string_lossy()]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        if out.status.success() || !stderr.contains(&expect) {
            failures.push(format!(
                "{}: expected refusal containing {expect:?}, got success={} stderr={stderr}",
                file.display(),
                out.status.success()
            ));
        }
    }
    // Immutable fields: the first document applies, the changed second one is refused. A
    // missing directory is a failure, not a skipped check.
    let imm = dir.join("immutable");
    let mut cases: Vec<_> = std::fs::read_dir(&imm)
        .unwrap_or_else(|e| panic!("{}: {e}", imm.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    cases.sort();
    assert!(cases.len() >= 3, "at least 3 immutable-field cases in {}, found {}", imm.display(), cases.len());
    for case in cases {
        let text = std::fs::read_to_string(&case).unwrap();
        let expect = expectation(&text).unwrap_or_else(|| panic!("{} has no '# expect:' line", case.display()));
        let docs: Vec<&str> = text.split("\n---\n").collect();
        assert_eq!(docs.len(), 2, "{}: original and changed documents", case.display());
        let first = w.apply_yaml(docs[0]);
        assert!(first.status.success(), "{}: original applies: {}", case.display(), String::from_utf8_lossy(&first.stderr));
        let second = w.apply_yaml(docs[1]);
        let stderr = String::from_utf8_lossy(&second.stderr);
        if second.status.success() || !stderr.contains(&expect) {
            failures.push(format!("{}: expected refusal containing {expect:?}, got {stderr}", case.display()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn expectation(text: &str) -> Option<String> {
    text.lines().find_map(|l| l.strip_prefix("# expect:").map(|s| s.trim().to_string()))
}

fn lb_yaml(name: &str, extra_spec: &str) -> String {
    format!(
        "apiVersion: elb.operator.dev/v1alpha1\nkind: LoadBalancer\nmetadata:\n  name: {name}\nspec:\n  availabilityZones: [us-east-1a]\n  listeners:\n  - {{port: 80, instancePort: 8080, protocol: HTTP}}\n{extra_spec}"
    )
}

/// A foreign ELB (no ownership tags) with the wanted name is never touched: the resource
/// reports a Conflict condition and a Warning event, and deleting it leaves the ELB alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_elb_is_a_conflict_and_untouched() {
    let mut w = World::start().await;
    let elb = w.elb();
    let foreign = format!("foreign-{}", w.id);
    elb.create_load_balancer(&elb_operator::elb::CreateLoadBalancerInput {
        name: foreign.clone(),
        listeners: vec![Listener {
            load_balancer_port: 8000,
            protocol: "TCP".into(),
            instance_port: 9000,
            instance_protocol: "TCP".into(),
            ssl_certificate_id: None,
        }],
        availability_zones: vec!["us-east-1b".into()],
        tags: vec![elb_operator::elb::Tag { key: "owner".into(), value: Some("someone-else".into()) }],
        ..Default::default()
    })
    .await
    .unwrap();
    let before = (
        w.describe(&foreign).await,
        elb.describe_tags(std::slice::from_ref(&foreign)).await.unwrap(),
        elb.describe_load_balancer_attributes(&foreign).await.unwrap(),
    );

    w.start_operator();
    let out = w.apply_yaml(&lb_yaml("taken", &format!("  loadBalancerName: {foreign}\n")));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    w.kubectl_ok(&["wait", "--for=condition=Conflict", "loadbalancer/taken", "--timeout=90s"]);
    let lb = w.get_json("loadbalancer/taken");
    let (status, reason, _) = yaml_status_condition(&lb, "Ready").expect("Ready condition");
    assert_eq!((status.as_str(), reason.as_str()), ("False", "Conflict"));
    let (_, _, message) = yaml_status_condition(&lb, "Conflict").expect("Conflict condition");
    assert!(message.contains(&foreign), "the Conflict condition names the ELB: {message}");
    let described = w.kubectl_ok(&["describe", "loadbalancer/taken"]);
    assert!(described.contains("Warning"), "a Warning event:\n{described}");

    w.kubectl_ok(&["delete", "loadbalancer/taken", "--timeout=60s"]);
    let after = (
        w.describe(&foreign).await,
        elb.describe_tags(std::slice::from_ref(&foreign)).await.unwrap(),
        elb.describe_load_balancer_attributes(&foreign).await.unwrap(),
    );
    assert_eq!(before, after, "the foreign ELB is unchanged, tags and attributes included");
}

/// `deletionPolicy: Retain` leaves the ELB in AWS when the resource is deleted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retain_policy_leaves_the_elb() {
    let mut w = World::start().await;
    w.start_operator();
    let name = format!("kept-{}", w.id);
    let out = w.apply_yaml(&lb_yaml("kept", &format!("  loadBalancerName: {name}\n  deletionPolicy: Retain\n")));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    w.kubectl_ok(&["wait", "--for=condition=Synced", "loadbalancer/kept", "--timeout=90s"]);
    assert!(w.describe(&name).await.is_some());
    w.kubectl_ok(&["delete", "loadbalancer/kept", "--timeout=60s"]);
    assert!(w.describe(&name).await.is_some(), "Retain keeps the ELB");
}

/// Out-of-band changes are corrected by the periodic resync: a removed listener, a
/// deregistered instance, and the whole ELB deleted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_is_corrected() {
    let mut w = World::start().await;
    let (_node, _pod, inst) = w.node_with_pod("us-east-1a", "drift").await;
    w.start_operator();
    let name = format!("drift-{}", w.id);
    let out = w.apply_yaml(&lb_yaml(
        "drift",
        &format!("  loadBalancerName: {name}\n  backends:\n    podSelector: {{matchLabels: {{app: drift}}}}\n"),
    ));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    w.kubectl_ok(&["wait", "--for=condition=Synced", "loadbalancer/drift", "--timeout=90s"]);
    let elb = w.elb();
    eventually("the instance to be registered", &w, || async { (w.describe(&name).await?.instances == vec![inst.clone()]).then_some(()) })
        .await;

    elb.delete_load_balancer_listeners(&name, &[80]).await.unwrap();
    elb.deregister_instances(&name, std::slice::from_ref(&inst)).await.unwrap();
    eventually("the listener and the instance to come back", &w, || async {
        let d = w.describe(&name).await?;
        (d.listeners.iter().any(|l| l.listener.load_balancer_port == 80) && d.instances == vec![inst.clone()]).then_some(())
    })
    .await;

    elb.delete_load_balancer(&name).await.unwrap();
    eventually("the deleted ELB to be recreated", &w, || async {
        let d = w.describe(&name).await?;
        (d.listeners.len() == 1 && d.instances == vec![inst.clone()]).then_some(())
    })
    .await;
}

/// Killing the operator mid-convergence and restarting it converges to exactly one ELB,
/// and deleting the resource afterwards leaves none: no duplicate, no leak.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_mid_convergence_leaves_no_duplicate_or_leak() {
    let mut w = World::start().await;
    let (_node, _pod, _inst) = w.node_with_pod("us-east-1a", "crash").await;
    // No explicit name: the derived name must be stable across restarts.
    let out = w.apply_yaml(&lb_yaml("crash", "  backends:\n    podSelector: {matchLabels: {app: crash}}\n"));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    w.start_operator();
    let elb = w.elb();
    // Kill it as soon as the ELB exists (creation done, the rest possibly not).
    eventually("the operator to create an ELB", &w, || async { (!elb.describe_load_balancers(&[]).await.ok()?.is_empty()).then_some(()) })
        .await;
    w.kill_operator();
    w.start_operator();
    w.kubectl_ok(&["wait", "--for=condition=Synced", "loadbalancer/crash", "--timeout=90s"]);
    let all = elb.describe_load_balancers(&[]).await.unwrap();
    assert_eq!(all.len(), 1, "exactly one ELB: {:?}", all.iter().map(|d| &d.name).collect::<Vec<_>>());
    let lb = w.get_json("loadbalancer/crash");
    assert_eq!(lb["status"]["loadBalancerName"].as_str(), Some(all[0].name.as_str()));

    w.kubectl_ok(&["delete", "loadbalancer/crash", "--timeout=60s"]);
    assert!(elb.describe_load_balancers(&[]).await.unwrap().is_empty(), "no ELB leaked");
}

/// `spec.backends.autoScalingGroups` through kubectl and the operator binary: the group's
/// instances InService in status as the group's, the group detached when the spec drops it,
/// and `kubectl explain` documenting the field.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_scaling_group_is_attached_and_detached() {
    let mut w = World::start().await;
    let group = format!("e2e-asg-{}", w.id);
    let ids = w.moto().create_auto_scaling_group(&group, "us-east-1a", 2);
    w.start_operator();
    let out = w.apply_yaml(&lb_yaml("asg", &format!("  backends:\n    autoScalingGroups: [{group}]\n")));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    w.kubectl_ok(&["wait", "--for=condition=Ready", "loadbalancer/asg", "--timeout=90s"]);
    let status = eventually("both instances InService", &w, || async {
        let lb = w.get_json("loadbalancer/asg");
        (lb["status"]["healthy"] == "2/2").then(|| lb["status"].clone())
    })
    .await;
    let elb_name = status["loadBalancerName"].as_str().expect("ELB name").to_string();
    assert_eq!(status["autoScalingGroups"], json!([group]));
    let listed: Vec<(String, String)> = status["instances"]
        .as_array()
        .expect("instances")
        .iter()
        .map(|i| (i["instanceId"].as_str().unwrap_or_default().to_string(), i["source"].as_str().unwrap_or_default().to_string()))
        .collect();
    assert_eq!(listed, ids.iter().map(|i| (i.clone(), "AutoScalingGroup".to_string())).collect::<Vec<_>>());
    assert_eq!(w.moto().group_load_balancers(REGION, &group), std::slice::from_ref(&elb_name));

    w.kubectl_ok(&["patch", "loadbalancer/asg", "--type=merge", "-p", r#"{"spec":{"backends":{"autoScalingGroups":null}}}"#]);
    eventually("the group detached", &w, || async { w.moto().group_load_balancers(REGION, &group).is_empty().then_some(()) }).await;
    eventually("no instance left", &w, || async { w.describe(&elb_name).await.filter(|d| d.instances.is_empty()) }).await;
    let explained = w.kubectl_ok(&["explain", "loadbalancer.spec.backends.autoScalingGroups"]);
    assert!(explained.contains("Auto Scaling groups") && explained.contains("detached"), "{explained}");
    w.kubectl_ok(&["delete", "loadbalancer/asg", "--timeout=60s"]);
}

/// Break glass: while `elb.operator.dev/paused: "true"`, neither drift (a listener deleted
/// in AWS, seen by the 3 s resync) nor a deletion reaches the ELB; the finalizer holds the
/// resource. Removing the annotation resumes: the deletion policy (Delete) applies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_load_balancer_is_left_alone_until_resumed() {
    let mut w = World::start().await;
    w.start_operator();
    let name = format!("paused-{}", w.id);
    let out = w.apply_yaml(&lb_yaml("paused", &format!("  loadBalancerName: {name}\n")));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    w.kubectl_ok(&["wait", "--for=condition=Synced", "loadbalancer/paused", "--timeout=90s"]);

    w.kubectl_ok(&["annotate", "loadbalancer/paused", "elb.operator.dev/paused=true"]);
    w.kubectl_ok(&[
        "wait",
        "--for=jsonpath={.status.conditions[?(@.type==\"Synced\")].reason}=Paused",
        "loadbalancer/paused",
        "--timeout=60s",
    ]);
    w.elb().delete_load_balancer_listeners(&name, &[80]).await.unwrap();
    w.kubectl_ok(&["delete", "loadbalancer/paused", "--wait=false"]);
    // Two resync intervals and more: nothing restores the listener or deletes the ELB.
    tokio::time::sleep(std::time::Duration::from_secs(8)).await;
    let d = w.describe(&name).await.expect("a paused LoadBalancer's ELB is not deleted");
    assert!(d.listeners.is_empty(), "a paused LoadBalancer's drift was corrected: {:?}", d.listeners);
    let lb = w.get_json("loadbalancer/paused");
    assert!(lb["metadata"]["finalizers"].as_array().is_some_and(|f| f.iter().any(|f| f == "elb.operator.dev/cleanup")), "{lb}");
    let (status, reason, message) = yaml_status_condition(&lb, "Synced").expect("Synced");
    assert_eq!((status.as_str(), reason.as_str()), ("False", "Paused"));
    assert!(message.contains("deletion waits"), "{message}");

    w.kubectl_ok(&["annotate", "loadbalancer/paused", "elb.operator.dev/paused-"]);
    w.kubectl_ok(&["wait", "--for=delete", "loadbalancer/paused", "--timeout=60s"]);
    assert!(w.describe(&name).await.is_none(), "resumed, the deletion policy (Delete) applies");
}
