//! The configuration file: TOML whose keys are the long options of the
//! subcommand it configures, so every command-line option can live in it and
//! nothing has two names.
//!
//! ```toml
//! # voxprobe capture --config /etc/voxprobe/voxprobe.toml
//! interface = "eth1"
//! format = "json"
//! ring-blocks = 128
//! sip-port = [5062, 5070]     # repeatable options take a list
//! no-promiscuous = false      # a switch is on when true
//! ```
//!
//! [`to_args`] turns the file into command-line words (keys in sorted
//! order; the order of options does not matter); the command line given
//! after them wins (a later option overrides an earlier one; lists add up).
//! Keys may use `-` or `_`.

use std::path::Path;

/// Why a configuration file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// Not TOML.
    #[error("{path}: not valid TOML: {message}")]
    Syntax {
        /// The file.
        path: String,
        /// The parser's message (it gives the line and column).
        message: String,
    },
    /// A value of a kind no option takes.
    #[error("{path}: key {key:?}: {what} (options take a string, a number, true/false, or a list of those)")]
    Value {
        /// The file.
        path: String,
        /// The key.
        key: String,
        /// What it was.
        what: &'static str,
    },
}

/// Reads a configuration file into command-line words.
///
/// # Errors
/// When the file cannot be read, is not TOML, or holds a value no option
/// takes (a table, a date, a list of lists).
pub fn load_args(path: &Path) -> Result<Vec<String>, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.display().to_string(),
        source,
    })?;
    to_args(&text, path)
}

/// Turns the text of a configuration file into command-line words, keys in
/// sorted order; `path` names the file in errors.
///
/// # Errors
/// As [`load_args`], minus reading.
pub fn to_args(text: &str, path: &Path) -> Result<Vec<String>, ConfigError> {
    let path = path.display().to_string();
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| ConfigError::Syntax {
            path: path.clone(),
            message: e.to_string().trim_end().replace('\n', " "),
        })?;
    let mut args = Vec::new();
    for (key, value) in &table {
        let option = format!("--{}", key.replace('_', "-"));
        let bad = |what| ConfigError::Value {
            path: path.clone(),
            key: key.clone(),
            what,
        };
        match value {
            toml::Value::Boolean(true) => args.push(option),
            toml::Value::Boolean(false) => {}
            toml::Value::Array(items) => {
                for item in items {
                    args.push(option.clone());
                    args.push(scalar(item).ok_or_else(|| {
                        bad("a list may hold only strings, numbers or true/false")
                    })?);
                }
            }
            v => {
                args.push(option);
                args.push(scalar(v).ok_or_else(|| bad(kind_name(v)))?);
            }
        }
    }
    Ok(args)
}

fn scalar(v: &toml::Value) -> Option<String> {
    match v {
        toml::Value::String(s) => Some(s.clone()),
        toml::Value::Integer(i) => Some(i.to_string()),
        toml::Value::Float(f) => Some(f.to_string()),
        toml::Value::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

fn kind_name(v: &toml::Value) -> &'static str {
    match v {
        toml::Value::Table(_) => "a table",
        toml::Value::Datetime(_) => "a date",
        _ => "an unsupported value",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(text: &str) -> Result<Vec<String>, ConfigError> {
        to_args(text, Path::new("test.toml"))
    }

    #[test]
    fn keys_become_long_options() {
        let a = args(
            "interface = \"eth1\"\nring_blocks = 128\ndefault-delay = 40.5\n\
             sip-port = [5062, 5070]\nno-promiscuous = true\nstreams = false\n",
        )
        .unwrap();
        assert_eq!(
            a,
            [
                "--default-delay",
                "40.5",
                "--interface",
                "eth1",
                "--no-promiscuous",
                "--ring-blocks",
                "128",
                "--sip-port",
                "5062",
                "--sip-port",
                "5070"
            ]
        );
    }

    #[test]
    fn errors_name_the_file_and_the_key() {
        let e = args("interface = \"eth1\"\n[capture]\nx = 1\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("test.toml") && e.contains("\"capture\"") && e.contains("a table"),
            "{e}"
        );
        let e = args("interface = \n").unwrap_err().to_string();
        assert!(
            e.contains("test.toml: not valid TOML") && e.contains("line 1"),
            "{e}"
        );
        let e = args("sip-port = [[1]]\n").unwrap_err().to_string();
        assert!(e.contains("\"sip-port\""), "{e}");
    }
}
