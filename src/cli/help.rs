//! `dock --help` (and what `dock` alone prints on stderr): written by hand, so clap's help and usage
//! rendering (~40 kB) stay out of the static binary. The tests below keep it whole: every option,
//! its value name and its `DOCK_*` variable must appear in it.
//!
//! Registers nothing.

/// The help text, as clap would lay it out.
pub const HELP: &str = "\
A micro init for containers: runs COMMAND as PID 1, forwards signals, reaps zombies,
tears the process tree down and exits with COMMAND's status.

Usage: dock [OPTIONS] [COMMAND]...

Arguments:
  [COMMAND]...  The command to run and its arguments

Options:
      --io <URL>                   Where the child's stdio goes: file:///abs/path, a bare path, tcp://host:port, tls://host:port (alias ssl://), unix:///path [env: DOCK_IO=]
      --web-hook <URL>             PUT a JSON status (starting, running, crashed) to this http:// or https:// URL [env: DOCK_WEB_HOOK=]
      --bind-port <PORT>           The child is running only once this TCP port is listening (1-65535) [env: DOCK_BIND_PORT=]
      --strict-port-binding        ... and only if the listener is dock or one of its descendants [env: DOCK_STRICT_PORT_BINDING=]
      --log-rotate <PERIOD>        Rotate the --io file every HOURS, or every 30s, 90m, 12h, 7d [env: DOCK_LOG_ROTATE=]
      --log-keep <N>               Rotated archives to keep (the newest N) [env: DOCK_LOG_KEEP=] [default: 5]
      --stdout-prefix <P[:COLOR]>  Prefix every output line with P, in bold COLOR (white green blue magenta yellow cyan red) [env: DOCK_STDOUT_PREFIX=]
      --log-max-size <SIZE>        Rotate the --io file before it passes SIZE bytes (or 512k, 10M, 1G) [env: DOCK_LOG_MAX_SIZE=]
      --log-mode <MODE>            Mode (octal) of the --io file dock creates and of its archives [env: DOCK_LOG_MODE=] [default: 0600]
      --timestamps                 Start every output line with the UTC time it was read: 2026-12-02T15:04:05.123456Z [env: DOCK_TIMESTAMPS=]
      --log-format <FORMAT>        raw (default), or json: one Docker json-file object per line [env: DOCK_LOG_FORMAT=]
      --no-pty                     With a network --io: plain pipes, output shipped as bytes, reconnecting with a bounded buffer [env: DOCK_NO_PTY=]
      --thug                       Send SIGKILL for a stop signal (INT, TERM, QUIT) the child ignores, or keeps blocked 100 ms [env: DOCK_THUG=]
      --grace-period <SECS>        Seconds between SIGTERM and SIGKILL during teardown [env: DOCK_GRACE_PERIOD=] [default: 5]
  -g, --process-group              Forward signals to the child's whole process group [env: DOCK_PROCESS_GROUP=]
      --ready-notify[=<ADDR>]      NOTIFY_SOCKET for the child (sd_notify): READY=1 readies it, STATUS= goes to the hook; alone an abstract socket dock names, =/path or =@name to choose [env: DOCK_READY_NOTIFY=]
      --ready-fd <N>               The child gets a pipe's write end as fd N (3 or more); a newline on it readies the child [env: DOCK_READY_FD=]
      --ready-http <URL>           GET this http:// or https:// URL until a 2xx readies the child [env: DOCK_READY_HTTP=]
      --ready-timeout <SECS>       Not ready within SECS: report crashed, tear down, exit 124 [env: DOCK_READY_TIMEOUT=]
      --ready-file <PATH>          Created when the child is ready, removed when teardown starts [env: DOCK_READY_FILE=]
      --ca-file <PATH>             Extra trust roots (PEM) for tls:// and https:// [env: DOCK_CA_FILE=]
      --insecure                   Skip TLS certificate verification [env: DOCK_INSECURE=]
  -r, --rewrite <FROM:TO>          Send a forwarded signal FROM as TO instead; TO 0 drops it (repeatable, or a comma list) [env: DOCK_REWRITE=]
  -e, --remap-exit <CODE[:TO]>     Exit with TO (default 0) where the child's status is CODE (repeatable, or a comma list) [env: DOCK_REMAP_EXIT=]
  -p, --pdeathsig <SIG>            Get SIG when dock's parent dies, and forward it like any signal [env: DOCK_PDEATHSIG=]
  -u, --user <USER[:GROUP]>        Run the child as USER (name or uid), GROUP, their groups and HOME; dock stays root [env: DOCK_USER=]
  -d, --debug                      Debug log on stderr [env: DOCK_DEBUG=]
  -v, --version                    Print the version (not verbose: that is -d) [alias: -V]
  -h, --help                       Print help

Every option can also be set as DOCK_<NAME> in the environment (DOCK_IO, DOCK_WEB_HOOK, ...); the command line wins.
";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_help_names_every_option_its_value_and_its_variable() {
        let cmd = <super::super::Args as clap::CommandFactory>::command();
        for a in cmd.get_arguments() {
            if a.get_id() == "sources" || a.is_hide_set() {
                continue;
            }
            if let Some(long) = a.get_long() {
                assert!(HELP.contains(&format!("--{long}")), "--{long} missing");
            }
            if let Some(short) = a.get_short() {
                assert!(HELP.contains(&format!("-{short},")), "-{short} missing");
            }
            let values = a
                .get_value_names()
                .filter(|_| a.get_action().takes_values());
            for v in values.unwrap_or_default() {
                assert!(
                    HELP.contains(&format!("<{v}>")) || HELP.contains(&format!("[{v}]")),
                    "{v}"
                );
            }
            if let Some(env) = a.get_env() {
                let env = env.to_string_lossy();
                assert!(HELP.contains(&format!("[env: {env}=]")), "{env} missing");
            }
        }
        assert!(HELP.starts_with("A micro init") && HELP.contains("Usage: dock [OPTIONS]"));
    }
}
