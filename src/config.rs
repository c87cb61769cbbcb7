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
//! [`to_options`] turns the file into options (keys in sorted order; the
//! order of options does not matter). An option the command line gives
//! replaces the file's, lists included. Keys may use `-` or `_`.

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

/// One option of a configuration file: a long option and its value (none
/// for a switch). A list gives one per item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigOption {
    /// The long option, without its `--`.
    pub long: String,
    /// Its value.
    pub value: Option<String>,
}

impl ConfigOption {
    /// The command-line words: `--long` and the value.
    pub fn words(&self) -> impl Iterator<Item = String> + '_ {
        std::iter::once(format!("--{}", self.long)).chain(self.value.clone())
    }
}

/// Reads a configuration file into options.
///
/// # Errors
/// When the file cannot be read, is not TOML, or holds a value no option
/// takes (a table, a date, a list of lists).
pub fn load_options(path: &Path) -> Result<Vec<ConfigOption>, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.display().to_string(),
        source,
    })?;
    to_options(&text, path)
}

/// Turns the text of a configuration file into options, keys in sorted
/// order; `path` names the file in errors.
///
/// # Errors
/// As [`load_options`], minus reading.
pub fn to_options(text: &str, path: &Path) -> Result<Vec<ConfigOption>, ConfigError> {
    let path = path.display().to_string();
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| ConfigError::Syntax {
            path: path.clone(),
            message: e.to_string().trim_end().replace('\n', " "),
        })?;
    let mut options = Vec::new();
    for (key, value) in &table {
        let long = key.replace('_', "-");
        if !is_option_name(&long) {
            return Err(ConfigError::Value {
                path,
                key: key.clone(),
                what: "not an option name (letters, digits and dashes, as after `--`)",
            });
        }
        let option = |value| ConfigOption {
            long: long.clone(),
            value,
        };
        let bad = |what| ConfigError::Value {
            path: path.clone(),
            key: key.clone(),
            what,
        };
        match value {
            toml::Value::Boolean(true) => options.push(option(None)),
            toml::Value::Boolean(false) => {}
            toml::Value::Array(items) => {
                for item in items {
                    let value = scalar(item).ok_or_else(|| {
                        bad("a list may hold only strings, numbers or true/false")
                    })?;
                    options.push(option(Some(value)));
                }
            }
            v => options.push(option(Some(scalar(v).ok_or_else(|| bad(kind_name(v)))?))),
        }
    }
    Ok(options)
}

/// Whether `name` can follow `--` as an option: not empty, ASCII letters,
/// digits and inner dashes (an empty key would make `--`, the end of the
/// options).
pub fn is_option_name(name: &str) -> bool {
    name.bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphanumeric())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
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
        let options = to_options(text, Path::new("test.toml"))?;
        Ok(options.iter().flat_map(ConfigOption::words).collect())
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
        // Found by the fuzzer: an empty key would have become `--`.
        for key in ["''", "'-x'", "'a b'", "'a=b'"] {
            let e = args(&format!("{key} = 2\n")).unwrap_err().to_string();
            assert!(e.contains("not an option name"), "{key}: {e}");
        }
    }
}
