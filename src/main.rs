//! `dock [OPTIONS] COMMAND [ARGS...]`: block signals, parse, run, exit with the child's status.

use std::io::Write;
use std::process::ExitCode;

fn main() -> ExitCode {
    // Block signals first, so none that arrives while we parse and spawn is lost or kills dock: they
    // wait in the signalfd and are forwarded once the child exists.
    let mask = match dock::signals::block_all() {
        Ok(m) => m,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "dock: blocking signals: {e}");
            return ExitCode::from(2);
        }
    };
    let config = match dock::cli::parse(std::env::args_os()) {
        Ok(dock::cli::Parsed::Run(c)) => *c,
        Ok(dock::cli::Parsed::Print(text)) => {
            let _ = std::io::stdout().write_all(text.as_bytes());
            return ExitCode::SUCCESS;
        }
        Ok(dock::cli::Parsed::Help(text)) => {
            let _ = std::io::stderr().write_all(text.as_bytes());
            return ExitCode::from(2);
        }
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "dock: {e}");
            return ExitCode::from(2);
        }
    };
    match dock::run(config, mask) {
        Ok(exit) => ExitCode::from(exit.code.clamp(0, 255) as u8),
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "dock: {e}");
            ExitCode::from(e.exit_code().clamp(0, 255) as u8)
        }
    }
}
