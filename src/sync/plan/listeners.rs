//! Listeners, compared port by port.

use std::collections::BTreeMap;

use super::Action;
use crate::elb::Listener;

/// Per port: unchanged listeners are left alone; a listener whose only difference is the
/// certificate gets it replaced; other changes delete that port and re-create it; ports no
/// longer wanted are deleted. All new listeners are created in one call, after the deletions.
pub fn plan_listeners(desired: &[Listener], observed: &[Listener]) -> Vec<Action> {
    let have: BTreeMap<u16, &Listener> = observed.iter().map(|l| (l.load_balancer_port, l)).collect();
    let want: BTreeMap<u16, &Listener> = desired.iter().map(|l| (l.load_balancer_port, l)).collect();
    let mut deletes = Vec::new();
    let mut creates = Vec::new();
    let mut certificates = Vec::new();
    for port in have.keys() {
        if !want.contains_key(port) {
            deletes.push(Action::DeleteListener(*port));
        }
    }
    for (port, new) in &want {
        match have.get(port) {
            None => creates.push((*new).clone()),
            Some(old) if same_listener(new, old) => {}
            Some(old) if same_listener_but_certificate(new, old) => {
                if let Some(cert) = &new.ssl_certificate_id {
                    certificates.push(Action::SetListenerCertificate { port: *port, certificate_id: cert.clone() });
                }
            }
            Some(_) => {
                deletes.push(Action::DeleteListener(*port));
                creates.push((*new).clone());
            }
        }
    }
    let mut actions = deletes;
    if !creates.is_empty() {
        actions.push(Action::CreateListeners(creates));
    }
    actions.extend(certificates);
    actions
}

pub(super) fn sorted_listeners(listeners: &[Listener]) -> Vec<Listener> {
    let mut l = listeners.to_vec();
    l.sort_by_key(|l| l.load_balancer_port);
    l
}

fn same_listener_but_certificate(a: &Listener, b: &Listener) -> bool {
    a.protocol == b.protocol
        && a.instance_port == b.instance_port
        && a.instance_protocol == b.instance_protocol
        && a.ssl_certificate_id.is_some()
}

fn same_listener(a: &Listener, b: &Listener) -> bool {
    a.load_balancer_port == b.load_balancer_port
        && a.protocol == b.protocol
        && a.instance_port == b.instance_port
        && a.instance_protocol == b.instance_protocol
        && a.ssl_certificate_id.as_deref().unwrap_or("") == b.ssl_certificate_id.as_deref().unwrap_or("")
}
