#!/usr/bin/env python3
"""Creates the demo's "cluster": EC2 instances in moto (one per zone) and the Kubernetes
Nodes and Pods that stand for them, printed as YAML documents for `kubectl apply -f -`.

The instances are in a security group that admits the VPC's range on the tutorial's
instance ports (8080, 8443), so the ELB (whose nodes take addresses in the VPC's subnets)
reaches them and BackendsReachable is True, as on a cluster set up for it.

Pods get their Ready status in a second step (`--pod-status`), because the API server
ignores the status of a Pod on create, as a real one does.
"""
import argparse
import json
import sys

import boto3


# The tutorial's instance ports: its listeners forward to 8080 and 8443, its health check
# probes 8080.
WEB_PORTS = (8080, 8443)


def web_security_group(ec2):
    """A group admitting the default VPC's range on WEB_PORTS, as a cluster's node group
    admits its load balancers."""
    vpc = next(v for v in ec2.describe_vpcs()["Vpcs"] if v.get("IsDefault"))
    group = ec2.create_security_group(GroupName="demo-web", Description="demo web nodes: the ELB on 8080 and 8443",
                                      VpcId=vpc["VpcId"])["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": port, "ToPort": port, "IpRanges": [{"CidrIp": vpc["CidrBlock"]}]}
        for port in WEB_PORTS
    ])
    return group


def ec2_instances(endpoint, region, zones):
    ec2 = boto3.client(
        "ec2",
        region_name=region,
        endpoint_url=endpoint,
        aws_access_key_id="demo",
        aws_secret_access_key="demo",
    )
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    group = web_security_group(ec2)
    ids = []
    for zone in zones:
        r = ec2.run_instances(
            ImageId=image, MinCount=1, MaxCount=1, InstanceType="t3.micro",
            Placement={"AvailabilityZone": zone}, SecurityGroupIds=[group],
        )
        ids.append((zone, r["Instances"][0]["InstanceId"]))
    return ids


def manifests(instances, namespace, app):
    docs = []
    for i, (zone, iid) in enumerate(instances):
        node = f"node-{zone}"
        docs.append({
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": node, "labels": {
                "topology.kubernetes.io/zone": zone, "kubernetes.io/hostname": node}},
            "spec": {"providerID": f"aws:///{zone}/{iid}"},
            "status": {"conditions": [{"type": "Ready", "status": "True",
                                        "reason": "KubeletReady", "message": "demo node"}]},
        })
        docs.append({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": f"web-{i}", "namespace": namespace, "labels": {"app": app}},
            "spec": {"nodeName": node, "containers": [{"name": "web", "image": "nginx"}]},
        })
    return docs


POD_STATUS = {"status": {
    "phase": "Running",
    "conditions": [{"type": "Ready", "status": "True"}, {"type": "ContainersReady", "status": "True"}],
    "containerStatuses": [{"name": "web", "ready": True, "restartCount": 0, "image": "nginx",
                           "imageID": "", "started": True, "state": {"running": {}}}],
}}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--endpoint")
    p.add_argument("--region", default="us-east-1")
    p.add_argument("--zones", default="us-east-1a,us-east-1b")
    p.add_argument("--namespace", default="default")
    p.add_argument("--app", default="web")
    p.add_argument("--pod-status", action="store_true", help="print the Ready pod status patch")
    a = p.parse_args()
    if a.pod_status:
        print(json.dumps(POD_STATUS))
        return
    instances = ec2_instances(a.endpoint, a.region, a.zones.split(","))
    # One document per object (JSON is YAML): kubectl validates a `List` only through the
    # OpenAPI v2 document, which the API stand-in does not serve.
    for doc in manifests(instances, a.namespace, a.app):
        sys.stdout.write("---\n" + json.dumps(doc, indent=1) + "\n")


if __name__ == "__main__":
    main()
