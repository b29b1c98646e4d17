//! Step 1, resolve: read what a LoadBalancer refers to: from the caches, its HealthCheck,
//! the pods and nodes its backends select (as EC2 instances), the LoadBalancerClasses and
//! its namespace's labels; from AWS, only when its class requires resource tags, the tags of
//! the resources it names or resolves. Reads only; nothing is judged here: a missing
//! HealthCheck, a bad selector or a class's refusal is [`super::validate`]'s.

use std::collections::BTreeMap;
use std::sync::Arc;

use kube::runtime::reflector::ObjectRef;
use kube::ResourceExt;

use super::resource_tags::{self, ReadError, ResourceTags, Wanted};
use crate::aws;
use crate::controller::backends::{Resolved, SelectorError};
use crate::controller::context::Context;
use crate::controller::fingerprint::fingerprint;
use crate::controller::scope::Scope;
use crate::crd::{HealthCheck, LoadBalancer, LoadBalancerClass};
use crate::tenancy::{self, Refusal};

/// The objects a LoadBalancer refers to, as the caches hold them.
#[derive(Debug, Clone)]
pub struct Referenced {
    /// `spec.healthCheckRef`: its name, and the HealthCheck when the cache has it.
    pub health_check: Option<(String, Option<Arc<HealthCheck>>)>,
    /// The instances the backends select, or why the selectors cannot be read.
    pub backends: Result<Resolved, SelectorError>,
    /// Every LoadBalancerClass in the cluster, and the labels of the LoadBalancer's
    /// namespace: what the tenancy rules decide from.
    pub classes: Vec<LoadBalancerClass>,
    pub namespace_labels: BTreeMap<String, String>,
    /// The tags of the AWS resources the LoadBalancer names or resolves, read only when its
    /// class requires resource tags; a missing client is the refusal this carries.
    pub resource_tags: Option<Result<ResourceTags, Refusal>>,
}

/// Reads the HealthCheck and the backends `lb` refers to from the caches of `ctx`, the
/// classes and the namespace's labels, and, when the class that applies requires resource
/// tags, the tags of the instances, groups, security groups and subnets the LoadBalancer
/// names or resolves (batched reads, on the region's EC2 and Auto Scaling budgets). An AWS
/// read that failed is returned, to be retried.
pub async fn resolve(lb: &LoadBalancer, ctx: &Context) -> Result<Referenced, aws::Error> {
    let mut referenced = from_caches(lb, ctx);
    let class = tenancy::choose_class(lb.spec.class_name.as_deref(), &referenced.classes, ctx.config.require_class).ok().flatten();
    if let (Some(_), Ok(resolved)) = (class.filter(|c| !c.spec.required_resource_tags.is_empty()), &referenced.backends) {
        referenced.resource_tags = Some(tags_of(lb, resolved, ctx).await?);
    }
    Ok(referenced)
}

/// The tags of what `lb` names and of the instances it `resolved`: read lately
/// ([`Context::recent_tags`]), else read now. No client to read with is a refusal, rather
/// than an admission unchecked.
async fn tags_of(lb: &LoadBalancer, resolved: &Resolved, ctx: &Context) -> Result<Result<ResourceTags, Refusal>, aws::Error> {
    let mut wanted = Wanted::named_by(lb);
    wanted.instances.extend(resolved.instance_ids());
    let scope = Scope::of(lb, &ctx.config.default_region, &ctx.config.cluster_name);
    let key = fingerprint(&(&scope, &wanted));
    let now = std::time::Instant::now();
    if let Some(tags) = ctx.recent_tags.get(key, now) {
        return Ok(Ok(tags));
    }
    let ec2 = ctx.aws.ec2_for_scope(&scope).transpose()?;
    let autoscaling = ctx.aws.autoscaling_for_scope(&scope)?;
    match resource_tags::read(ec2.as_deref(), autoscaling.as_deref(), &wanted).await {
        Ok(tags) => {
            ctx.recent_tags.put(key, tags.clone(), now);
            Ok(Ok(tags))
        }
        Err(ReadError::Aws(e)) => Err(e),
        Err(missing) => Ok(Err(missing.refusal().expect("every read error but an AWS one is a refusal"))),
    }
}

/// What [`resolve`] reads from the caches alone, without the AWS tag reads (the health
/// writer's view: it writes no AWS resource).
pub fn from_caches(lb: &LoadBalancer, ctx: &Context) -> Referenced {
    let ns = lb.namespace().unwrap_or_default();
    let health_check = lb.spec.health_check_ref.as_ref().map(|r| {
        let hc = ctx.stores.healthchecks.get(&ObjectRef::new(&r.name).within(&ns));
        (r.name.clone(), hc)
    });
    let backends = ctx.stores.resolve_backends(lb.spec.backends.as_ref(), &ns);
    let classes = ctx.stores.classes();
    let namespace_labels = ctx.stores.namespace_labels(&ns);
    Referenced { health_check, backends, classes, namespace_labels, resource_tags: None }
}
