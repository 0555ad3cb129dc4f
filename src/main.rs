//! `dock [OPTIONS] COMMAND [ARGS...]`: block signals, parse, run, exit with the child's status.

fn main() -> std::process::ExitCode {
    dock::main()
}
