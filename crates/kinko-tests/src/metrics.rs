//! The server's `/metrics`, read as Prometheus reads it: `GET /metrics` over HTTP, the text format
//! parsed into samples, and a sample's value looked up by name and labels.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use crate::http_get;

/// One scrape of `/metrics`.
#[derive(Debug, Clone)]
pub struct Scrape {
    pub text: String,
    samples: Vec<Sample>,
}

#[derive(Debug, Clone)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

impl Scrape {
    /// `GET /metrics` on `addr`; fails unless it answers 200 in Prometheus's text format.
    pub async fn of(addr: SocketAddr) -> Scrape {
        let resp = http_get(addr, "/metrics").await;
        assert_eq!(resp.status, 200, "GET /metrics: {}", resp.text());
        let content_type = resp
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        assert!(
            content_type.starts_with("text/plain; version=0.0.4"),
            "content type {content_type}"
        );
        Scrape::parse(&resp.text())
    }

    /// Parses the text format (0.0.4): `# HELP`/`# TYPE` lines and `name{label="value",...} number`.
    pub fn parse(text: &str) -> Scrape {
        let samples = text
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(|l| parse_sample(l).unwrap_or_else(|| panic!("not a sample line: {l}")))
            .collect();
        Scrape {
            text: text.to_owned(),
            samples,
        }
    }

    /// The sum of the samples named `name` that have all of `labels` (0 when there are none).
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.samples
            .iter()
            .filter(|s| s.name == name)
            .filter(|s| {
                labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
            })
            .map(|s| s.value)
            .sum()
    }

    /// Whether any sample is named `name`.
    pub fn has(&self, name: &str) -> bool {
        self.samples.iter().any(|s| s.name == name)
    }

    /// Every value the label `label` takes on samples named `name`.
    pub fn label_values(&self, name: &str, label: &str) -> Vec<String> {
        let mut values: Vec<String> = self
            .samples
            .iter()
            .filter(|s| s.name == name)
            .filter_map(|s| s.labels.get(label).cloned())
            .collect();
        values.sort();
        values.dedup();
        values
    }
}

fn parse_sample(line: &str) -> Option<Sample> {
    let (head, value) = line.rsplit_once(' ')?;
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v.parse().ok()?,
    };
    let (name, labels) = match head.split_once('{') {
        None => (head, BTreeMap::new()),
        Some((name, rest)) => (name, parse_labels(rest.strip_suffix('}')?)?),
    };
    Some(Sample {
        name: name.to_owned(),
        labels,
        value,
    })
}

/// `a="x",b="y \"quoted\""` into its pairs.
fn parse_labels(mut rest: &str) -> Option<BTreeMap<String, String>> {
    let mut labels = BTreeMap::new();
    while !rest.is_empty() {
        let (key, after) = rest.split_once("=\"")?;
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next()? {
                (i, '"') => break i,
                (_, '\\') => match chars.next()?.1 {
                    'n' => value.push('\n'),
                    c => value.push(c),
                },
                (_, c) => value.push(c),
            }
        };
        labels.insert(key.trim_start_matches(',').to_owned(), value);
        rest = &after[end + 1..];
    }
    Some(labels)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_are_read_by_name_and_labels() {
        let s = Scrape::parse(
            "# HELP x_total X.\n# TYPE x_total counter\nx_total{a=\"1\",b=\"q\\\"\"} 2\nx_total{a=\"2\"} 3\ny 1.5\n",
        );
        assert_eq!(s.value("x_total", &[]), 5.0);
        assert_eq!(s.value("x_total", &[("a", "1")]), 2.0);
        assert_eq!(s.value("x_total", &[("b", "q\"")]), 2.0);
        assert_eq!(s.value("y", &[]), 1.5);
        assert_eq!(s.value("z", &[]), 0.0);
        assert_eq!(s.label_values("x_total", "a"), ["1", "2"]);
    }
}
