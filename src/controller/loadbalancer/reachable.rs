//! The `BackendsReachable` condition: when the backend reachability check
//! ([`crate::reachability`]) runs for a LoadBalancer, and the condition its result yields.
//!
//! The check costs two to four EC2 reads. The region's observer issues them
//! ([`crate::controller::observer`]), from the EC2 client's own budget in class resync and a
//! few at a time, never a reconcile: a check never holds a reconcile slot, never delays a
//! spec change and never fails a sync. The reconcile only writes the result
//! ([`crate::controller::schedule::Step::WriteReachability`]).
//!
//! When a check is due ([`due`]), sized for 10,000 LoadBalancers per region:
//! - after a converged sync whose inputs ([`CheckInputs`]: the registered instances, the
//!   instance and health check ports, the ELB's security groups, source group and subnets)
//!   differ from those of the last check;
//! - while the last result is not True: `PortsClosed` or `EC2NotAllowed` again after the
//!   resync interval, `EC2CheckFailed` after [`FAILED_RETRY`] (at most the resync interval);
//! - while True but some instance is not InService (a removed rule shows there first):
//!   again after [`OUT_OF_SERVICE_RECHECK`] (at most the resync interval).
//!
//! A True result with every instance InService is not checked again until its inputs
//! change: a stable fleet makes no EC2 call. After a restart, a `BackendsReachable`
//! condition written for the status's generation stands for the last result, so a takeover
//! does not check the whole fleet again. When a scope's credentials may not make the EC2
//! reads ([`Denied`]), its LoadBalancers are Unknown (`EC2NotAllowed`) without a call, and
//! one check per resync interval tries again.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use tokio::time::Instant;

use crate::aws::redact::redact;
use crate::controller::fingerprint::fingerprint;
use crate::controller::status::Verdict;
use crate::crd::condition::{Status, BACKENDS_REACHABLE};
use crate::ec2::Ec2Api;
use crate::elb::LoadBalancerDescription;
use crate::reachability::{backend_ports, check_backends, CheckError, ElbSource, Reachability, PORTS_CLOSED};

/// A True result is checked again this soon when some instance is not InService.
pub const OUT_OF_SERVICE_RECHECK: Duration = Duration::from_secs(300);
/// A check that failed (throttling, a timeout, a 5xx) is tried again after this long.
pub const FAILED_RETRY: Duration = Duration::from_secs(60);
/// Checks in flight at once per region: their reads wait for the EC2 budget, not for slots.
pub const CHECKS_IN_FLIGHT: usize = 2;

/// What a check looks at, as the last converged sync saw the ELB.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CheckInputs {
    /// The registered instances, sorted, once each.
    pub instances: Vec<String>,
    pub source: ElbSource,
    pub ports: BTreeSet<u16>,
}

impl CheckInputs {
    pub fn of(description: &LoadBalancerDescription) -> CheckInputs {
        let instances: BTreeSet<String> = description.instances.iter().cloned().collect();
        CheckInputs { instances: instances.into_iter().collect(), source: ElbSource::of(description), ports: backend_ports(description) }
    }

    /// A hash of the inputs, to tell whether they changed since the last check.
    pub fn print(&self) -> u64 {
        fingerprint(self)
    }
}

/// What a check concluded, as far as scheduling the next one is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckOutcome {
    Reachable,
    PortsClosed,
    NotAllowed,
    Failed,
}

impl CheckOutcome {
    /// The outcome a written condition stands for (after a restart).
    fn of_condition(c: &Condition) -> CheckOutcome {
        match (Status::of(&c.status), c.reason.as_str()) {
            (Status::True, _) => CheckOutcome::Reachable,
            (Status::False, _) => CheckOutcome::PortsClosed,
            (_, "EC2NotAllowed") => CheckOutcome::NotAllowed,
            _ => CheckOutcome::Failed,
        }
    }
}

/// The last check: of which inputs (`None`: whatever the first sync after a restart sees,
/// as the status vouches for it), when, and what it found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Last {
    pub print: Option<u64>,
    pub at: Instant,
    pub outcome: CheckOutcome,
}

/// Per-LoadBalancer memory of the check (part of the schedule's memo).
#[derive(Debug, Clone, Default)]
pub struct Memory {
    /// The inputs the last converged sync saw, and their fingerprint.
    pub inputs: Option<(Arc<CheckInputs>, u64)>,
    pub last: Option<Last>,
    /// A check runs now.
    pub in_flight: bool,
    /// A result the reconcile has not written yet.
    pub unwritten: Option<Verdict>,
}

impl Memory {
    /// The memory after a start: the condition of `status`, when written for the status's
    /// generation, stands for a check of the inputs the first sync will see.
    pub fn from_status(status: &crate::crd::LoadBalancerStatus, now: Instant) -> Memory {
        let written = status.conditions.iter().find(|c| {
            c.type_ == BACKENDS_REACHABLE && c.observed_generation.is_some() && c.observed_generation == status.observed_generation
        });
        Memory { last: written.map(|c| Last { print: None, at: now, outcome: CheckOutcome::of_condition(c) }), ..Memory::default() }
    }

    /// Records the inputs a converged sync saw; returns whether a result still waits to be
    /// written (the sync's own status write did not include it).
    pub fn observed(&mut self, inputs: CheckInputs) -> bool {
        let print = inputs.print();
        if let Some(last) = self.last.as_mut() {
            last.print.get_or_insert(print);
        }
        self.inputs = Some((Arc::new(inputs), print));
        self.unwritten.is_some()
    }

    /// Records a check of the inputs with fingerprint `print`.
    pub fn checked(&mut self, print: u64, outcome: CheckOutcome, verdict: Verdict, now: Instant) {
        self.in_flight = false;
        self.last = Some(Last { print: Some(print), at: now, outcome });
        self.unwritten = Some(verdict);
    }
}

/// Whether a check is due now (see the module documentation). `out_of_service`: some
/// registered instance is not InService.
pub fn due(memory: &Memory, out_of_service: bool, now: Instant, resync_interval: Duration) -> bool {
    let Some((_, print)) = &memory.inputs else { return false };
    if memory.in_flight || memory.unwritten.is_some() {
        return false;
    }
    let Some(last) = &memory.last else { return true };
    if last.print.is_some_and(|p| p != *print) {
        return true;
    }
    let age = now.saturating_duration_since(last.at);
    match last.outcome {
        CheckOutcome::Reachable => out_of_service && age >= OUT_OF_SERVICE_RECHECK.min(resync_interval),
        CheckOutcome::PortsClosed | CheckOutcome::NotAllowed => age >= resync_interval,
        CheckOutcome::Failed => age >= FAILED_RETRY.min(resync_interval),
    }
}

/// The condition for a check's result.
pub fn verdict(result: &Result<Reachability, CheckError>) -> (CheckOutcome, Verdict) {
    match result {
        Ok(r) if r.checked == 0 && r.unchecked.is_empty() => {
            (CheckOutcome::Reachable, Verdict::new(BACKENDS_REACHABLE, true, "NoInstances", "no instance is registered"))
        }
        Ok(r) if r.is_reachable() => (CheckOutcome::Reachable, Verdict::new(BACKENDS_REACHABLE, true, "PortsOpen", r.message())),
        Ok(r) => (CheckOutcome::PortsClosed, Verdict::new(BACKENDS_REACHABLE, false, PORTS_CLOSED, r.message())),
        Err(e @ CheckError::NotAllowed { .. }) => (CheckOutcome::NotAllowed, not_allowed(redact(&e.to_string()))),
        Err(e) => (CheckOutcome::Failed, Verdict::unknown(BACKENDS_REACHABLE, e.reason(), redact(&e.to_string()))),
    }
}

fn not_allowed(error: String) -> Verdict {
    Verdict::unknown(
        BACKENDS_REACHABLE,
        "EC2NotAllowed",
        format!(
            "{error}. The check is optional: grant the statement ElbOperatorBackendCheckOptional of docs/iam-policy.json \
             to enable it; it is tried again every resync interval"
        ),
    )
}

/// A scope whose EC2 reads were refused: until when its checks make no call, and the
/// error that said so.
#[derive(Debug, Default)]
pub struct Denied(Mutex<Option<(Instant, String)>>);

impl Denied {
    /// Runs the check of `inputs` unless the scope is denied at `now`; a refusal denies it
    /// for `resync_interval`.
    pub async fn check(&self, ec2: &dyn Ec2Api, inputs: &CheckInputs, now: Instant, resync_interval: Duration) -> (CheckOutcome, Verdict) {
        let denied = self.0.lock().expect("denied lock").clone().filter(|(until, _)| now < *until);
        if let Some((_, error)) = denied {
            return (CheckOutcome::NotAllowed, not_allowed(error));
        }
        let result = check_backends(ec2, &inputs.instances, &inputs.source, &inputs.ports).await;
        if let Err(e @ CheckError::NotAllowed { .. }) = &result {
            let first = self.0.lock().expect("denied lock").replace((now + resync_interval, redact(&e.to_string()))).is_none();
            if first {
                tracing::warn!(error = %e, "EC2 reads not allowed: BackendsReachable is Unknown until they are (the check is optional)");
            }
        } else {
            *self.0.lock().expect("denied lock") = None;
        }
        verdict(&result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws;

    fn inputs(instances: &[&str]) -> CheckInputs {
        CheckInputs { instances: instances.iter().map(|s| s.to_string()).collect(), source: ElbSource::default(), ports: [80].into() }
    }

    fn memory(inputs: &CheckInputs, last: Option<(Option<u64>, CheckOutcome)>, now: Instant) -> Memory {
        Memory {
            inputs: Some((Arc::new(inputs.clone()), inputs.print())),
            last: last.map(|(print, outcome)| Last { print, at: now, outcome }),
            ..Memory::default()
        }
    }

    #[test]
    fn when_a_check_is_due() {
        let resync = Duration::from_secs(600);
        let t0 = Instant::now();
        let i = inputs(&["i-1"]);
        let p = i.print();
        let other = inputs(&["i-1", "i-2"]).print();
        let min = Duration::from_secs(60);
        // (case, memory, some instance out of service, age of the last check, due)
        let cases: Vec<(&str, Memory, bool, Duration, bool)> = vec![
            ("nothing synced yet", Memory::default(), true, resync, false),
            ("never checked", memory(&i, None, t0), false, Duration::ZERO, true),
            ("inputs changed", memory(&i, Some((Some(other), CheckOutcome::Reachable)), t0), false, Duration::ZERO, true),
            ("reachable, stable, for ever", memory(&i, Some((Some(p), CheckOutcome::Reachable)), t0), false, 100 * resync, false),
            ("reachable, out of service, recently", memory(&i, Some((Some(p), CheckOutcome::Reachable)), t0), true, 4 * min, false),
            ("reachable, out of service, 5 min", memory(&i, Some((Some(p), CheckOutcome::Reachable)), t0), true, 5 * min, true),
            ("closed, before the resync interval", memory(&i, Some((Some(p), CheckOutcome::PortsClosed)), t0), true, 9 * min, false),
            ("closed, after it", memory(&i, Some((Some(p), CheckOutcome::PortsClosed)), t0), false, resync, true),
            ("not allowed, after it", memory(&i, Some((Some(p), CheckOutcome::NotAllowed)), t0), false, resync, true),
            ("failed, before a minute", memory(&i, Some((Some(p), CheckOutcome::Failed)), t0), false, min / 2, false),
            ("failed, after a minute", memory(&i, Some((Some(p), CheckOutcome::Failed)), t0), false, min, true),
            ("status vouched after a start", memory(&i, Some((None, CheckOutcome::Reachable)), t0), false, Duration::ZERO, false),
            ("in flight", Memory { in_flight: true, ..memory(&i, None, t0) }, false, Duration::ZERO, false),
            (
                "a result not written yet",
                Memory { unwritten: Some(Verdict::new(BACKENDS_REACHABLE, true, "PortsOpen", "")), ..memory(&i, None, t0) },
                false,
                Duration::ZERO,
                false,
            ),
        ];
        for (case, m, out_of_service, age, want) in cases {
            assert_eq!(due(&m, out_of_service, t0 + age, resync), want, "case {case}");
        }
        // A short resync interval (tests, small fleets) shortens every wait.
        let m = memory(&i, Some((Some(p), CheckOutcome::Reachable)), t0);
        assert!(due(&m, true, t0 + Duration::from_secs(2), Duration::from_secs(2)));
    }

    #[test]
    fn inputs_are_what_the_check_reads_and_their_print_follows_each() {
        let mut d = LoadBalancerDescription {
            instances: vec!["i-2".into(), "i-1".into(), "i-2".into()],
            security_groups: vec!["sg-1".into()],
            health_check: Some(crate::elb::HealthCheck {
                target: "TCP:9000".into(),
                interval: 30,
                timeout: 5,
                healthy_threshold: 3,
                unhealthy_threshold: 5,
            }),
            ..Default::default()
        };
        let i = CheckInputs::of(&d);
        assert_eq!(i.instances, ["i-1", "i-2"], "sorted, once each: moto lists a re-registered instance twice");
        assert_eq!(i.ports, [9000].into());
        let print = i.print();
        assert_eq!(CheckInputs::of(&d).print(), print, "stable");
        d.instances.reverse();
        assert_eq!(CheckInputs::of(&d).print(), print, "the order of registration does not matter");
        d.security_groups.push("sg-2".into());
        let with_group = CheckInputs::of(&d).print();
        assert_ne!(with_group, print, "another ELB group");
        d.health_check = None;
        assert_ne!(CheckInputs::of(&d).print(), with_group, "another port");
    }

    #[test]
    fn a_written_condition_stands_for_a_check_after_a_start_and_the_first_sync_adopts_its_inputs() {
        let t0 = Instant::now();
        let condition = |status: &str, reason: &str, generation| Condition {
            type_: BACKENDS_REACHABLE.into(),
            status: status.into(),
            reason: reason.into(),
            message: String::new(),
            observed_generation: Some(generation),
            last_transition_time: k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(k8s_openapi::jiff::Timestamp::now()),
        };
        let status =
            |c: Condition| crate::crd::LoadBalancerStatus { observed_generation: Some(2), conditions: vec![c], ..Default::default() };
        let mut m = Memory::from_status(&status(condition("True", "PortsOpen", 2)), t0);
        assert_eq!(m.last.as_ref().map(|l| (l.print, l.outcome)), Some((None, CheckOutcome::Reachable)));
        assert!(!m.observed(inputs(&["i-1"])), "nothing to write");
        assert!(!due(&m, false, t0, Duration::from_secs(600)), "the status vouches for the first inputs");
        m.observed(inputs(&["i-2"]));
        assert!(due(&m, false, t0, Duration::from_secs(600)), "later inputs differ");
        assert!(Memory::from_status(&status(condition("True", "PortsOpen", 1)), t0).last.is_none(), "written for another generation");
        let outcome = |s, r| Memory::from_status(&status(condition(s, r, 2)), t0).last.map(|l| l.outcome);
        assert_eq!(outcome("False", PORTS_CLOSED), Some(CheckOutcome::PortsClosed));
        assert_eq!(outcome("Unknown", "EC2NotAllowed"), Some(CheckOutcome::NotAllowed));
        assert_eq!(outcome("Unknown", "EC2CheckFailed"), Some(CheckOutcome::Failed));
    }

    fn denied(action: &'static str) -> aws::Error {
        aws::Error::Api { action, code: "UnauthorizedOperation".into(), message: "not authorized".into(), request_id: None, status: 403 }
    }

    #[test]
    fn conditions_from_results() {
        let closed = Reachability { closed: vec![("i-1".into(), 8080)], checked: 1, unchecked: vec![], ports: [8080].into() };
        let (o, v) = verdict(&Ok(closed));
        assert_eq!((o, v.status, v.reason.as_str()), (CheckOutcome::PortsClosed, Status::False, "PortsClosed"));
        assert_eq!(v.message, "no security group rule admits the load balancer on i-1:8080");
        let open = Reachability { checked: 1, ports: [8080].into(), ..Default::default() };
        assert_eq!(verdict(&Ok(open)).1.reason, "PortsOpen");
        assert_eq!(verdict(&Ok(Reachability::default())).1.reason, "NoInstances");
        let (o, v) = verdict(&Err(CheckError::from(denied("DescribeInstances"))));
        assert_eq!((o, v.status, v.reason.as_str()), (CheckOutcome::NotAllowed, Status::Unknown, "EC2NotAllowed"));
        assert!(v.message.contains("ec2:DescribeInstances") && v.message.contains("optional"), "{}", v.message);
        let throttled = aws::Error::Api {
            action: "DescribeInstances",
            code: "RequestLimitExceeded".into(),
            message: String::new(),
            request_id: None,
            status: 503,
        };
        let (o, v) = verdict(&Err(CheckError::from(throttled)));
        assert_eq!((o, v.status, v.reason.as_str()), (CheckOutcome::Failed, Status::Unknown, "EC2CheckFailed"));
    }

    /// An EC2 API that refuses every read, counting them.
    #[derive(Default)]
    struct Refusing(std::sync::atomic::AtomicUsize);

    #[async_trait::async_trait]
    impl Ec2Api for Refusing {
        fn region(&self) -> &str {
            "us-east-1"
        }
        async fn describe_instances(&self, _: &[String]) -> Result<Vec<crate::ec2::InstanceNetwork>, aws::Error> {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Err(denied("DescribeInstances"))
        }
        async fn describe_security_groups(&self, _: &[String]) -> Result<Vec<crate::ec2::SecurityGroup>, aws::Error> {
            unreachable!("the first read was refused")
        }
        async fn describe_security_groups_by_name(
            &self,
            _: &[String],
            _: Option<&str>,
        ) -> Result<Vec<crate::ec2::SecurityGroup>, aws::Error> {
            unreachable!("the first read was refused")
        }
        async fn describe_subnets(&self, _: &[String]) -> Result<Vec<crate::ec2::Subnet>, aws::Error> {
            unreachable!("the first read was refused")
        }
    }

    /// A refusal is a property of the scope's credentials: the other LoadBalancers of the
    /// scope do not spend a call each to learn it again, until the resync interval passed.
    #[tokio::test]
    async fn a_refused_scope_makes_one_call_per_resync_interval() {
        let ec2 = Refusing::default();
        let gate = Denied::default();
        let resync = Duration::from_secs(600);
        let t0 = Instant::now();
        for n in 0..5 {
            let (o, v) = gate.check(&ec2, &inputs(&[&format!("i-{n}")]), t0 + Duration::from_secs(n), resync).await;
            assert_eq!((o, v.reason.as_str()), (CheckOutcome::NotAllowed, "EC2NotAllowed"));
            assert!(v.message.contains("ec2:DescribeInstances"), "{}", v.message);
        }
        assert_eq!(ec2.0.load(std::sync::atomic::Ordering::SeqCst), 1);
        gate.check(&ec2, &inputs(&["i-1"]), t0 + resync, resync).await;
        assert_eq!(ec2.0.load(std::sync::atomic::Ordering::SeqCst), 2, "tried again after the resync interval");
    }
}
