//! A small block-style YAML writer for JSON values, so test configs read like
//! hand-written ones (and errors point at sensible lines).

use serde_json::Value;

/// `value` as block YAML. Strings are written JSON-quoted, which YAML reads as
/// double-quoted scalars.
pub fn to_yaml(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Object(_) | Value::Array(_) if !is_empty(value) => write_block(value, 0, &mut out),
        other => {
            out.push_str(&scalar(other));
            out.push('\n');
        }
    }
    out
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

fn is_block(v: &Value) -> bool {
    matches!(v, Value::Object(_) | Value::Array(_)) && !is_empty(v)
}

fn scalar(v: &Value) -> String {
    match v {
        Value::Object(_) => "{}".to_string(),
        Value::Array(_) => "[]".to_string(),
        other => other.to_string(),
    }
}

/// Plain when it is a simple name, JSON-quoted otherwise.
fn key(k: &str) -> String {
    let simple = k.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if simple {
        k.to_string()
    } else {
        Value::String(k.to_string()).to_string()
    }
}

fn write_block(v: &Value, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                let key = key(k);
                if is_block(v) {
                    out.push_str(&format!("{pad}{key}:\n"));
                    write_block(v, indent + 2, out);
                } else {
                    out.push_str(&format!("{pad}{key}: {}\n", scalar(v)));
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                if is_block(item) {
                    let mut inner = String::new();
                    write_block(item, indent + 2, &mut inner);
                    // The first line of the item goes after the dash.
                    out.push_str(&pad);
                    out.push_str("- ");
                    out.push_str(inner.trim_start_matches(' '));
                } else {
                    out.push_str(&format!("{pad}- {}\n", scalar(item)));
                }
            }
        }
        other => {
            out.push_str(&format!("{pad}{}\n", scalar(other)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn writes_block_yaml() {
        let v = json!({
            "nats": {"url": "nats://x"},
            "destinations": [{"name": "a", "events": ["rotation.>"], "headers": {}}],
            "n": 1
        });
        assert_eq!(
            to_yaml(&v),
            "nats:\n  url: \"nats://x\"\ndestinations:\n  - name: \"a\"\n    events:\n      - \"rotation.>\"\n    headers: {}\nn: 1\n"
        );
    }
}
