//! Connection state through the lifecycle, and ping.
mod common;

use std::time::Duration;

use common::*;
use polymongo::{ErrorKind, Options, PolyMongo, State};

#[test]
fn state_follows_the_lifecycle_and_ping_measures_latency() {
    let pm = PolyMongo::new(&Options::new(server_uri()).default_db(unique_db("health"))).unwrap();
    assert_eq!(pm.state().unwrap(), State::NotInitialized);
    assert!(!pm.is_connected().unwrap());
    let rtt = pm.ping(None).unwrap();
    assert!(rtt > Duration::ZERO && rtt < Duration::from_secs(5), "{rtt:?}");
    assert_eq!(pm.state().unwrap(), State::Connected);
    assert!(pm.is_connected().unwrap());
    assert_eq!(pm.state().unwrap().to_string(), "connected");
    pm.close_all(Duration::from_secs(1)).unwrap();
    assert_eq!(pm.state().unwrap(), State::Disconnected);
    pm.ping(Some(&unique_db("health_other"))).unwrap();
    assert_eq!(pm.state().unwrap(), State::Connected, "usable after close_all");
    assert_eq!(pm.ping(Some("bad$name")).unwrap_err().kind(), ErrorKind::InvalidDbName);
    pm.close();
    assert_eq!(pm.state().unwrap_err().kind(), ErrorKind::Closed);
}

#[test]
fn unreachable_server_is_disconnected() {
    let pm =
        PolyMongo::new(&Options::new("mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=200").default_db("d"))
            .unwrap();
    assert_eq!(pm.ping(None).unwrap_err().kind(), ErrorKind::Connect);
    assert_eq!(pm.state().unwrap(), State::Disconnected);
    assert!(!pm.is_connected().unwrap());
}
