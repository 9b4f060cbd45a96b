//! AWS's model-constraint validation messages:
//! `1 validation error detected: Value 'x' at 'name' failed to satisfy constraint: Member must ...`;
//! several violations are joined with `; ` under `N validation errors detected: `.

/// Collects constraint violations in field order.
#[derive(Debug, Default)]
pub struct Violations(Vec<String>);

impl Violations {
    pub fn new() -> Self {
        Self::default()
    }

    fn push(&mut self, value: Option<&str>, path: &str, constraint: &str) {
        let v = match value {
            Some(v) => format!("Value '{v}' at '{path}'"),
            None => format!("Value at '{path}'"),
        };
        self.0
            .push(format!("{v} failed to satisfy constraint: Member {constraint}"));
    }

    /// A required member was absent.
    pub fn required<T>(&mut self, path: &str, v: &Option<T>) {
        if v.is_none() {
            self.0.push(format!(
                "Value null at '{path}' failed to satisfy constraint: Member must not be null"
            ));
        }
    }

    /// Character-length bounds on a string member. Sensitive members are reported without value.
    pub fn length(&mut self, path: &str, v: Option<&str>, min: usize, max: usize, sensitive: bool) {
        let Some(s) = v else { return };
        let n = s.chars().count();
        let shown = if sensitive { None } else { Some(s) };
        if n < min {
            self.push(
                shown,
                path,
                &format!("must have length greater than or equal to {min}"),
            );
        } else if n > max {
            self.push(
                shown,
                path,
                &format!("must have length less than or equal to {max}"),
            );
        }
    }

    /// Byte-length bounds (secret values are limited in bytes). Never shows the value.
    pub fn byte_length(&mut self, path: &str, v: Option<&[u8]>, min: usize, max: usize) {
        let Some(b) = v else { return };
        if b.len() < min {
            self.push(
                None,
                path,
                &format!("must have length greater than or equal to {min}"),
            );
        } else if b.len() > max {
            self.push(
                None,
                path,
                &format!("must have length less than or equal to {max}"),
            );
        }
    }

    pub fn range(&mut self, path: &str, v: Option<i64>, min: i64, max: i64) {
        let Some(n) = v else { return };
        let shown = n.to_string();
        if n < min {
            self.push(
                Some(&shown),
                path,
                &format!("must have value greater than or equal to {min}"),
            );
        } else if n > max {
            self.push(
                Some(&shown),
                path,
                &format!("must have value less than or equal to {max}"),
            );
        }
    }

    pub fn list_length<T>(&mut self, path: &str, v: Option<&[T]>, min: usize, max: usize) {
        let Some(l) = v else { return };
        if l.len() < min {
            self.push(
                None,
                path,
                &format!("must have length greater than or equal to {min}"),
            );
        } else if l.len() > max {
            self.push(
                None,
                path,
                &format!("must have length less than or equal to {max}"),
            );
        }
    }

    pub fn one_of(&mut self, path: &str, v: Option<&str>, allowed: &[&str]) {
        let Some(s) = v else { return };
        if !allowed.contains(&s) {
            self.push(
                Some(s),
                path,
                &format!("must satisfy enum value set: [{}]", allowed.join(", ")),
            );
        }
    }

    pub fn pattern(&mut self, path: &str, v: Option<&str>, pattern: &str, ok: bool) {
        if let (Some(s), false) = (v, ok) {
            self.push(
                Some(s),
                path,
                &format!("must satisfy regular expression pattern: {pattern}"),
            );
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The ValidationException message, or `None` when nothing was violated.
    pub fn message(&self) -> Option<String> {
        match self.0.len() {
            0 => None,
            1 => Some(format!("1 validation error detected: {}", self.0[0])),
            n => Some(format!("{n} validation errors detected: {}", self.0.join("; "))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages() {
        let mut v = Violations::new();
        assert_eq!(v.message(), None);
        v.length("name", Some(""), 1, 512, false);
        assert_eq!(
            v.message().unwrap(),
            "1 validation error detected: Value '' at 'name' failed to satisfy constraint: Member must have length greater than or equal to 1"
        );
        v.byte_length("secretString", Some(&[0u8; 10]), 1, 5);
        v.required::<String>("secretId", &None);
        let m = v.message().unwrap();
        assert!(m.starts_with("3 validation errors detected: "));
        assert!(m.contains("Value at 'secretString' failed to satisfy constraint: Member must have length less than or equal to 5"));
        assert!(m.contains("Value null at 'secretId'"));
    }
}
