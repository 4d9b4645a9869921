//! Running a command and turning a non-zero exit into an error that shows the command and
//! what it printed.

use std::process::Command;

/// A command that could not be run or exited non-zero.
#[derive(Debug, thiserror::Error)]
#[error("`{command}` failed ({status}): {stderr}")]
pub struct CmdError {
    /// The command line, as typed.
    pub command: String,
    /// Exit status, or why it did not run.
    pub status: String,
    /// What it wrote to stderr (and stdout, if stderr was empty).
    pub stderr: String,
}

/// Runs `argv` and returns its stdout, or an error naming the command and its output.
pub fn run(argv: &[&str]) -> Result<String, CmdError> {
    let command = argv.join(" ");
    let (program, args) = argv.split_first().expect("run: empty command line");
    let output = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| CmdError {
            command: command.clone(),
            status: "not started".into(),
            stderr: e.to_string(),
        })?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    if output.status.success() {
        return Ok(stdout);
    }
    let stderr = String::from_utf8_lossy(&output.stderr).trim().to_owned();
    Err(CmdError {
        command,
        status: output.status.to_string(),
        stderr: if stderr.is_empty() { stdout } else { stderr },
    })
}

/// Runs `argv` and panics with the command and its output if it fails (what tests want).
pub fn run_ok(argv: &[&str]) -> String {
    run(argv).unwrap_or_else(|e| panic!("{e}"))
}
