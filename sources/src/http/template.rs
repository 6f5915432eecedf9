//! URL and file-name templates over the instants a source fetches.
//!
//! `{start:%Y%m%d}` is the instant's start and `{end:%Y-%m-%dT%H:%M}` its end
//! (start + step), both written with `strftime` directives in the source's time zone;
//! `{{` and `}}` are literal braces. Everything else is copied as it is.

use jiff::Timestamp;
use jiff::tz::TimeZone;

/// A parsed template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Template {
    parts: Vec<Part>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Part {
    Text(String),
    Start(String),
    End(String),
}

impl Template {
    /// Parses `text`; says what is wrong with a placeholder.
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut rest = text;
        while let Some(index) = rest.find(['{', '}']) {
            literal.push_str(&rest[..index]);
            let tail = &rest[index..];
            if tail.starts_with("{{") || tail.starts_with("}}") {
                literal.push_str(&tail[..1]);
                rest = &tail[2..];
                continue;
            }
            if tail.starts_with('}') {
                return Err(format!(
                    "unmatched `}}` in `{text}` (write `}}}}` for a brace)"
                ));
            }
            let close = tail
                .find('}')
                .ok_or_else(|| format!("unclosed `{{` in `{text}`"))?;
            let placeholder = &tail[1..close];
            let (name, pattern) = placeholder.split_once(':').unwrap_or((placeholder, ""));
            if pattern.is_empty() {
                return Err(format!(
                    "`{{{placeholder}}}` needs a strftime pattern, e.g. `{{start:%Y-%m-%d}}`"
                ));
            }
            if !literal.is_empty() {
                parts.push(Part::Text(std::mem::take(&mut literal)));
            }
            parts.push(match name {
                "start" => Part::Start(pattern.to_string()),
                "end" => Part::End(pattern.to_string()),
                other => {
                    return Err(format!(
                        "unknown placeholder `{other}` in `{text}`; known: start, end"
                    ));
                }
            });
            rest = &tail[close + 1..];
        }
        literal.push_str(rest);
        if !literal.is_empty() {
            parts.push(Part::Text(literal));
        }
        Ok(Template { parts })
    }

    /// The text for the interval `[start, end)` in `zone`.
    pub(crate) fn render(&self, start: Timestamp, end: Timestamp, zone: &TimeZone) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(text) => out.push_str(text),
                Part::Start(pattern) => out.push_str(
                    &start
                        .to_zoned_datetime(zone.clone())
                        .strftime(pattern)
                        .to_string(),
                ),
                Part::End(pattern) => out.push_str(
                    &end.to_zoned_datetime(zone.clone())
                        .strftime(pattern)
                        .to_string(),
                ),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_start_and_end_in_the_zone() {
        let template =
            Template::parse("https://x/{{a}}?from={start:%Y-%m-%dT%H:%M}&to={end:%H%M}").unwrap();
        let start: Timestamp = "2024-11-03T06:00:00Z".parse().unwrap();
        let end: Timestamp = "2024-11-03T07:00:00Z".parse().unwrap();
        let zone = TimeZone::get("America/Chicago").unwrap();
        assert_eq!(
            template.render(start, end, &zone),
            "https://x/{a}?from=2024-11-03T01:00&to=0100"
        );
    }

    #[test]
    fn mistakes_are_named() {
        assert!(
            Template::parse("x{start}")
                .unwrap_err()
                .contains("strftime")
        );
        assert!(
            Template::parse("x{when:%Y}")
                .unwrap_err()
                .contains("unknown placeholder")
        );
        assert!(
            Template::parse("x{start:%Y")
                .unwrap_err()
                .contains("unclosed")
        );
        assert!(Template::parse("x}").unwrap_err().contains("unmatched"));
    }
}
