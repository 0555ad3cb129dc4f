//! The JSON body of a hook request (a compatible superset of the original dock's):
//! `{"ps":{"status":"starting","pid":42,"net_interfaces":[{"name":"lo","ipv4":"127.0.0.1","ipv6":"::1"}]}}`,
//! and with `crashed`, `"exit_code"` plus `"signal":"SIGTERM"` when a signal killed the child.
//!
//! Registers nothing.

use serde::Serialize;

use super::netif::Interface;
use super::queue::Status;
use crate::notice::signal_name;

#[derive(Serialize)]
struct Body<'a> {
    ps: Ps<'a>,
}

#[derive(Serialize)]
struct Ps<'a> {
    status: &'static str,
    pid: Option<i32>,
    net_interfaces: &'a [Interface],
    #[serde(skip_serializing_if = "Option::is_none")]
    exit_code: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    signal: Option<String>,
}

/// The request body for `status` of the child `pid` (`null` when there is none yet) with these
/// interfaces.
pub fn body(status: Status, pid: Option<i32>, interfaces: &[Interface]) -> Vec<u8> {
    let (exit_code, signal) = match status {
        Status::Crashed(e) => (Some(e.code), e.signal.map(signal_name)),
        _ => (None, None),
    };
    let b = Body {
        ps: Ps {
            status: status.name(),
            pid,
            net_interfaces: interfaces,
            exit_code,
            signal,
        },
    };
    // Serializing plain structs of strings and numbers into a Vec cannot fail (serde_json fails only
    // for non-string map keys or a failing writer); an empty object is a safe fallback all the same.
    serde_json::to_vec(&b).unwrap_or_else(|_| b"{}".to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notice::ChildExit;

    fn lo() -> Vec<Interface> {
        vec![Interface {
            name: "lo".into(),
            ipv4: Some("127.0.0.1".parse().unwrap()),
            ipv6: Some("::1".parse().unwrap()),
        }]
    }

    #[test]
    fn exact_bodies() {
        assert_eq!(
            String::from_utf8(body(Status::Starting, Some(42), &lo())).unwrap(),
            r#"{"ps":{"status":"starting","pid":42,"net_interfaces":[{"name":"lo","ipv4":"127.0.0.1","ipv6":"::1"}]}}"#
        );
        assert_eq!(
            String::from_utf8(body(Status::Running, None, &[])).unwrap(),
            r#"{"ps":{"status":"running","pid":null,"net_interfaces":[]}}"#
        );
        assert_eq!(
            String::from_utf8(body(Status::Crashed(ChildExit::exited(3)), Some(7), &[])).unwrap(),
            r#"{"ps":{"status":"crashed","pid":7,"net_interfaces":[],"exit_code":3}}"#
        );
        assert_eq!(
            String::from_utf8(body(Status::Crashed(ChildExit::signaled(15)), Some(7), &[]))
                .unwrap(),
            r#"{"ps":{"status":"crashed","pid":7,"net_interfaces":[],"exit_code":143,"signal":"SIGTERM"}}"#
        );
    }
}
