//! Node labels: a map in the YAML file, `key=value,key2=value2` on the command line.

use std::collections::BTreeMap;
use std::str::FromStr;

use serde::Deserialize;

/// Labels of a node.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Labels(pub BTreeMap<String, String>);

impl FromStr for Labels {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.split(',')
            .filter(|pair| !pair.trim().is_empty())
            .map(|pair| match pair.split_once('=') {
                Some((k, v)) if !k.trim().is_empty() => {
                    Ok((k.trim().to_owned(), v.trim().to_owned()))
                }
                _ => Err(format!("label {pair:?} is not key=value")),
            })
            .collect::<Result<_, _>>()
            .map(Labels)
    }
}
