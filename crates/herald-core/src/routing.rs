//! NATS subject patterns: validation, matching and containment.

use std::fmt;

use serde::{Deserialize, Deserializer};

/// A validated NATS subject pattern: dot-separated tokens, `*` for one token,
/// `>` as the last token for one or more.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SubjectPattern(String);

impl SubjectPattern {
    /// Validates `s`.
    ///
    /// # Errors
    /// A message saying what is wrong with the pattern.
    pub fn parse(s: &str) -> Result<Self, String> {
        if s.is_empty() {
            return Err("a subject pattern cannot be empty".into());
        }
        let tokens: Vec<&str> = s.split('.').collect();
        for (i, t) in tokens.iter().enumerate() {
            if t.is_empty() {
                return Err(format!("subject pattern `{s}` has an empty token"));
            }
            if t.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(format!("subject pattern `{s}` contains white space"));
            }
            if *t == ">" && i + 1 != tokens.len() {
                return Err(format!("in `{s}`, `>` may only be the last token"));
            }
            if t.len() > 1 && (t.contains('*') || t.contains('>')) {
                return Err(format!(
                    "in `{s}`, `*` and `>` must be whole tokens (write `rotation.*`, not `rotation*`)"
                ));
            }
        }
        Ok(Self(s.to_string()))
    }

    /// The pattern text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// True when `subject` (a literal subject) matches the pattern.
    pub fn matches(&self, subject: &str) -> bool {
        let mut pat = self.0.split('.');
        let mut sub = subject.split('.');
        loop {
            match (pat.next(), sub.next()) {
                (Some(">"), Some(_)) => return true,
                (Some("*"), Some(_)) => {}
                (Some(p), Some(s)) if p == s => {}
                (None, None) => return true,
                _ => return false,
            }
        }
    }

    /// True when every subject this pattern matches is also matched by `outer`.
    pub fn is_within(&self, outer: &SubjectPattern) -> bool {
        let mut inner = self.0.split('.');
        let mut out = outer.0.split('.');
        loop {
            match (inner.next(), out.next()) {
                (Some(_), Some(">")) => return true,
                (Some(">"), Some(_)) => return false,
                (Some(_), Some("*")) => {}
                (Some("*"), Some(_)) => return false,
                (Some(a), Some(b)) if a == b => {}
                (None, None) => return true,
                _ => return false,
            }
        }
    }

    /// True when some subject matches both this pattern and `other`.
    pub fn overlaps(&self, other: &SubjectPattern) -> bool {
        let mut a = self.0.split('.');
        let mut b = other.0.split('.');
        loop {
            match (a.next(), b.next()) {
                (Some(">"), Some(_)) | (Some(_), Some(">")) | (None, None) => return true,
                (Some("*"), Some(_)) | (Some(_), Some("*")) => {}
                (Some(x), Some(y)) if x == y => {}
                _ => return false,
            }
        }
    }

    /// A token safe in a durable consumer name: `rotation.>` → `rotation_all`,
    /// `*.failed` → `any_failed`.
    pub fn consumer_token(&self) -> String {
        self.0
            .split('.')
            .map(|t| match t {
                ">" => "all".to_string(),
                "*" => "any".to_string(),
                other => other
                    .chars()
                    .map(|c| {
                        if c.is_ascii_alphanumeric() || c == '-' {
                            c
                        } else {
                            '_'
                        }
                    })
                    .collect(),
            })
            .collect::<Vec<_>>()
            .join("_")
    }
}

impl fmt::Display for SubjectPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for SubjectPattern {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        SubjectPattern::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl serde::Serialize for SubjectPattern {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> SubjectPattern {
        SubjectPattern::parse(s).unwrap()
    }

    #[test]
    fn validates_tokens() {
        assert!(SubjectPattern::parse("rotation.>").is_ok());
        assert!(SubjectPattern::parse("*.failed").is_ok());
        assert!(SubjectPattern::parse("rotation.>.x").is_err());
        assert!(SubjectPattern::parse("rotation*").is_err());
        assert!(SubjectPattern::parse("a..b").is_err());
        assert!(SubjectPattern::parse("a b").is_err());
    }

    #[test]
    fn overlapping_patterns_share_a_subject() {
        assert!(p("herald.feed.>").overlaps(&p(">")));
        assert!(p("herald.feed.>").overlaps(&p("herald.*.webhook")));
        assert!(p("*.failed").overlaps(&p("rotation.*")));
        assert!(!p("herald.feed.>").overlaps(&p("rotation.>")));
        assert!(!p("herald.feed.>").overlaps(&p("herald.feed")));
        assert!(!p("a.b").overlaps(&p("a.b.c")));
    }

    #[test]
    fn matches_and_containment() {
        assert!(p("rotation.>").matches("rotation.failed"));
        assert!(!p("rotation.>").matches("rotation"));
        assert!(p("*.failed").matches("update.failed"));
        assert!(!p("*.failed").matches("update.rollback_failed"));
        assert!(p("rotation.failed").is_within(&p("rotation.>")));
        assert!(p("rotation.*").is_within(&p("rotation.>")));
        assert!(!p("rotation.>").is_within(&p("rotation.*")));
        assert!(!p("*.failed").is_within(&p("rotation.>")));
        assert!(p("a.b").is_within(&p("a.*")));
        assert_eq!(p("rotation.>").consumer_token(), "rotation_all");
        assert_eq!(p("*.failed").consumer_token(), "any_failed");
    }
}
