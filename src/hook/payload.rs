//! The JSON body of a hook request (a compatible superset of the original dock's):
//! `{"ps":{"status":"starting","pid":42,"net_interfaces":[{"name":"lo","ipv4":"127.0.0.1","ipv6":"::1"}]}}`,
//! and with `crashed`, `"exit_code"` plus `"signal":"SIGTERM"` when a signal killed the child, and
//! `"reason"` when dock stopped it (`--ready-timeout`); with `running`, `"ready_ms"`; after an
//! sd_notify `STATUS=`, `"status_text"` in every status.
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
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ready_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    status_text: Option<&'a str>,
}

/// What the hook knows besides the status: each field goes out only where it belongs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Extra {
    /// From the spawn to readiness, ms (`running` only).
    pub ready_ms: Option<u64>,
    /// Why dock stopped the child (`crashed` only).
    pub reason: Option<String>,
    /// The child's latest sd_notify `STATUS=` text (every status once there is one).
    pub status_text: Option<String>,
}

/// The request body for `status` of the child `pid` (`null` when there is none yet) with these
/// interfaces and what `extra` holds for it.
pub fn body(status: Status, pid: Option<i32>, interfaces: &[Interface], extra: &Extra) -> Vec<u8> {
    let (exit_code, signal) = match status {
        Status::Crashed(e) => (Some(e.code), e.signal.map(signal_name)),
        _ => (None, None),
    };
    let crashed = matches!(status, Status::Crashed(_));
    let b = Body {
        ps: Ps {
            status: status.name(),
            pid,
            net_interfaces: interfaces,
            exit_code,
            signal,
            reason: extra.reason.as_deref().filter(|_| crashed),
            ready_ms: extra.ready_ms.filter(|_| status == Status::Running),
            status_text: extra.status_text.as_deref(),
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
            String::from_utf8(body(Status::Starting, Some(42), &lo(), &Extra::default())).unwrap(),
            r#"{"ps":{"status":"starting","pid":42,"net_interfaces":[{"name":"lo","ipv4":"127.0.0.1","ipv6":"::1"}]}}"#
        );
        assert_eq!(
            String::from_utf8(body(Status::Running, None, &[], &Extra::default())).unwrap(),
            r#"{"ps":{"status":"running","pid":null,"net_interfaces":[]}}"#
        );
        assert_eq!(
            String::from_utf8(body(
                Status::Crashed(ChildExit::exited(3)),
                Some(7),
                &[],
                &Extra::default()
            ))
            .unwrap(),
            r#"{"ps":{"status":"crashed","pid":7,"net_interfaces":[],"exit_code":3}}"#
        );
        assert_eq!(
            String::from_utf8(body(
                Status::Crashed(ChildExit::signaled(15)),
                Some(7),
                &[],
                &Extra::default()
            ))
            .unwrap(),
            r#"{"ps":{"status":"crashed","pid":7,"net_interfaces":[],"exit_code":143,"signal":"SIGTERM"}}"#
        );
    }

    #[test]
    fn readiness_fields_go_where_they_belong() {
        let extra = Extra {
            ready_ms: Some(12),
            reason: Some("not ready within 5 s".into()),
            status_text: Some("Loading \"db\"\u{e9}".into()),
        };
        let text = |status| String::from_utf8(body(status, Some(7), &[], &extra)).unwrap();
        assert_eq!(
            text(Status::Starting),
            r#"{"ps":{"status":"starting","pid":7,"net_interfaces":[],"status_text":"Loading \"db\"é"}}"#
        );
        assert_eq!(
            text(Status::Running),
            r#"{"ps":{"status":"running","pid":7,"net_interfaces":[],"ready_ms":12,"status_text":"Loading \"db\"é"}}"#
        );
        assert_eq!(
            text(Status::Crashed(ChildExit::exited(124))),
            r#"{"ps":{"status":"crashed","pid":7,"net_interfaces":[],"exit_code":124,"reason":"not ready within 5 s","status_text":"Loading \"db\"é"}}"#
        );
    }
}
