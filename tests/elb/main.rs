//! Integration tests of the ELB client (`elb::Client`) and the EC2 and AutoScaling clients over
//! the same call path: round trips against moto's server, and faults from a small local server of our own.
//! One binary so moto starts once.

mod assume_role;
mod autoscaling;
mod common;
mod credentials;
mod ec2;
mod fault_server;
mod faults;
mod fence;
mod moto_actions;
