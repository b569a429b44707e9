use crate::simulator::testkit::*;
