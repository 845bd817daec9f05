//! Lists: newest first, a page at a time, continued with an opaque cursor.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use super::error::FieldError;

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 100;

#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// Where a page starts and how long it is, as a caller asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    /// Only items with an id below this one.
    pub before_id: Option<i64>,
    pub limit: i64,
}

impl Default for PageRequest {
    fn default() -> Self {
        Self {
            before_id: None,
            limit: DEFAULT_LIMIT,
        }
    }
}

impl PageRequest {
    pub fn parse(cursor: Option<&str>, limit: Option<i64>) -> Result<Self, FieldError> {
        let limit = match limit {
            None => DEFAULT_LIMIT,
            Some(n) if (1..=MAX_LIMIT).contains(&n) => n,
            Some(_) => {
                return Err(FieldError::new(
                    "limit",
                    "invalid_limit",
                    "limit must be between 1 and 100.",
                ))
            }
        };
        let before_id = cursor.map(decode_cursor).transpose()?;
        Ok(Self { before_id, limit })
    }

    /// Builds the page from up to `limit + 1` rows fetched newest first: the extra row only
    /// says that there is more.
    pub fn finish<T>(self, mut rows: Vec<T>, id_of: impl Fn(&T) -> i64) -> Page<T> {
        let limit = usize::try_from(self.limit).unwrap_or(usize::MAX);
        let next_cursor = if rows.len() > limit {
            rows.truncate(limit);
            rows.last().map(|last| encode_cursor(id_of(last)))
        } else {
            None
        };
        Page {
            items: rows,
            next_cursor,
        }
    }
}

fn encode_cursor(id: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("v1:{id}"))
}

fn decode_cursor(cursor: &str) -> Result<i64, FieldError> {
    let invalid = || FieldError::new("cursor", "invalid_cursor", "This cursor is not valid.");
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| invalid())?;
    let text = std::str::from_utf8(&bytes).map_err(|_| invalid())?;
    text.strip_prefix("v1:")
        .and_then(|id| id.parse().ok())
        .ok_or_else(invalid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_and_refuses_garbage() {
        let request = PageRequest::parse(Some(&encode_cursor(42)), None).unwrap();
        assert_eq!(request.before_id, Some(42));
        assert!(PageRequest::parse(Some("nonsense!"), None).is_err());
        assert!(PageRequest::parse(Some(&URL_SAFE_NO_PAD.encode("v2:1")), None).is_err());
    }

    #[test]
    fn limit_is_1_to_100() {
        assert_eq!(PageRequest::parse(None, None).unwrap().limit, 50);
        assert!(PageRequest::parse(None, Some(0)).is_err());
        assert!(PageRequest::parse(None, Some(101)).is_err());
    }

    #[test]
    fn the_extra_row_makes_a_cursor() {
        let request = PageRequest {
            before_id: None,
            limit: 2,
        };
        let page = request.finish(vec![9, 8, 7], |id| *id);
        assert_eq!(page.items, vec![9, 8]);
        assert_eq!(page.next_cursor, Some(encode_cursor(8)));
        let last = request.finish(vec![9, 8], |id| *id);
        assert_eq!(last.next_cursor, None);
    }
}
