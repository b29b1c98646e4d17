#!/usr/bin/env python3
"""The demo's AWS side, for the tour: list and stop/start the EC2 instances behind the demo
Nodes, and list the ELBs, in the demo's moto server (`scripts/demo-aws ...`).

The endpoint comes from AWS_ENDPOINT_URL, else from .work/demo/env (written by `make demo`).
"""
import argparse
import os
import pathlib
import sys

import boto3

ENV = pathlib.Path(__file__).resolve().parents[1] / ".work" / "demo" / "env"


def endpoint():
    if os.environ.get("AWS_ENDPOINT_URL"):
        return os.environ["AWS_ENDPOINT_URL"]
    if ENV.exists():
        for line in ENV.read_text().splitlines():
            if line.startswith("export AWS_ENDPOINT_URL="):
                return line.split("=", 1)[1].strip("'\"")
    sys.exit("demo-aws: no demo running (start `make demo` first)")


def client(service):
    return boto3.client(service, region_name="us-east-1", endpoint_url=endpoint(),
                        aws_access_key_id="demo", aws_secret_access_key="demo")


def main():
    p = argparse.ArgumentParser(prog="scripts/demo-aws", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("instances", help="the EC2 instances: id, zone, state")
    for name in ("stop", "start"):
        s = sub.add_parser(name, help=f"{name} EC2 instances")
        s.add_argument("ids", nargs="+")
    sub.add_parser("elbs", help="the Classic ELBs: name, zones, instances")
    a = p.parse_args()
    if a.cmd == "instances":
        for r in client("ec2").describe_instances()["Reservations"]:
            for i in r["Instances"]:
                print(f'{i["InstanceId"]}  {i["Placement"]["AvailabilityZone"]}  {i["State"]["Name"]}')
    elif a.cmd == "stop":
        for c in client("ec2").stop_instances(InstanceIds=a.ids)["StoppingInstances"]:
            print(f'{c["InstanceId"]}: {c["PreviousState"]["Name"]} -> {c["CurrentState"]["Name"]}')
    elif a.cmd == "start":
        for c in client("ec2").start_instances(InstanceIds=a.ids)["StartingInstances"]:
            print(f'{c["InstanceId"]}: {c["PreviousState"]["Name"]} -> {c["CurrentState"]["Name"]}')
    elif a.cmd == "elbs":
        lbs = client("elb").describe_load_balancers()["LoadBalancerDescriptions"]
        if not lbs:
            print("(no load balancers)")
        for lb in lbs:
            ids = ",".join(i["InstanceId"] for i in lb["Instances"]) or "-"
            print(f'{lb["LoadBalancerName"]}  zones={",".join(lb["AvailabilityZones"])}  instances={ids}')


if __name__ == "__main__":
    main()
