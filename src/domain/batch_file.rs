//! The CSV file of a bulk invite (delivery.md §12), read with the `csv` crate: a header row
//! naming `email` and optionally `name` and `role`; UTF-8 with or without a byte-order mark;
//! commas or semicolons, whichever the header uses; RFC 4180 quoting; at most `MAX_ROWS`
//! rows and `MAX_FILE_BYTES`. Every row keeps its line number, for the messages about it.

use csv::{ReaderBuilder, Trim};

use super::batch::{BatchRow, RowRole, MAX_ROWS};
use super::error::{Error, FieldError};

/// The largest file read.
pub const MAX_FILE_BYTES: usize = 1024 * 1024;

/// The field every edge names a file's problems by.
const FIELD: &str = "file";

/// One row of the file and the line it starts on.
#[derive(Debug, Clone)]
pub struct FileRow {
    pub line: u64,
    pub row: BatchRow,
}

/// Reads a bulk-invite file. A file that cannot be used as a whole is one sentence: too
/// large, not UTF-8 (naming the line), without an `email` column, without rows, or over
/// `MAX_ROWS` rows (`TooManyRows`).
pub fn read_batch_file(bytes: &[u8]) -> Result<Vec<FileRow>, Error> {
    if bytes.len() > MAX_FILE_BYTES {
        return Err(refused(
            "file_too_large",
            String::from("The file is larger than 1 MiB; split it into smaller files."),
        ));
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let line = 1 + bytes[..e.valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        refused(
            "file_not_utf8",
            format!(
                "The file is not UTF-8 text (line {line}); save it as CSV UTF-8 and try again."
            ),
        )
    })?;
    let header = text.lines().next().unwrap_or_default();
    // The header names plain words, so whichever separator it uses more is the file's.
    let delimiter = if header.matches(';').count() > header.matches(',').count() {
        b';'
    } else {
        b','
    };
    let mut reader = ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .trim(Trim::All)
        .from_reader(text.as_bytes());
    let headers = reader.headers().map_err(|e| unreadable(text, &e))?.clone();
    let column = |names: &[&str]| {
        headers.iter().position(|header| {
            names
                .iter()
                .any(|name| header.trim_matches('"').eq_ignore_ascii_case(name))
        })
    };
    let Some(email_column) = column(&["email", "e-mail", "email address"]) else {
        return Err(refused(
            "no_email_column",
            String::from(
                "The first line must name the columns, one of them email (and, if you like, name and role), separated by commas or semicolons.",
            ),
        ));
    };
    let name_column = column(&["name"]);
    let role_column = column(&["role"]);

    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| unreadable(text, &e))?;
        if record.iter().all(str::is_empty) {
            continue;
        }
        if rows.len() == MAX_ROWS {
            return Err(Error::TooManyRows {
                rows: MAX_ROWS + 1,
                limit: MAX_ROWS,
            });
        }
        let field = |column: Option<usize>| {
            column
                .and_then(|column| record.get(column))
                .filter(|value| !value.is_empty())
                .map(str::to_owned)
        };
        rows.push(FileRow {
            line: line_at(text, record.position()),
            row: BatchRow {
                email: field(Some(email_column)).unwrap_or_default(),
                name: field(name_column),
                role: field(role_column).map_or(RowRole::Unset, RowRole::Name),
            },
        });
    }
    if rows.is_empty() {
        return Err(refused(
            "no_rows",
            String::from(
                "The file names no one to invite: add a line per person under the header.",
            ),
        ));
    }
    Ok(rows)
}

fn refused(code: &'static str, message: String) -> Error {
    Error::Validation(vec![FieldError::new(FIELD, code, message)])
}

/// The line a record starts on, counted in the text itself: the reader's own line count
/// leaves out blank lines and the second half of a CRLF, and its byte offset may point at
/// the line breaks before the record, which are stepped over here (no record starts with
/// one: blank lines are skipped).
fn line_at(text: &str, position: Option<&csv::Position>) -> u64 {
    let bytes = text.as_bytes();
    let mut start = position.map_or(0, |p| usize::try_from(p.byte()).unwrap_or(usize::MAX));
    start = start.min(bytes.len());
    while matches!(bytes.get(start), Some(b'\r' | b'\n')) {
        start += 1;
    }
    1 + bytes[..start].iter().filter(|&&b| b == b'\n').count() as u64
}

fn unreadable(text: &str, error: &csv::Error) -> Error {
    let line = line_at(text, error.position());
    refused(
        "file_unreadable",
        format!("The file could not be read as CSV at line {line}."),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Vec<(u64, String, Option<String>, RowRole)> {
        read_batch_file(text.as_bytes())
            .unwrap()
            .into_iter()
            .map(|r| (r.line, r.row.email, r.row.name, r.row.role))
            .collect()
    }

    fn refusal(bytes: &[u8]) -> (&'static str, String) {
        match read_batch_file(bytes) {
            Err(Error::Validation(fields)) => (fields[0].code, fields[0].message.clone()),
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn a_byte_order_mark_semicolons_quotes_crlf_and_empty_lines_are_read() {
        let text = "\u{FEFF}Email;Name;Role\r\n\
                    ana@acme.com;\"Ruiz; Ana\";client_admin\r\n\
                    \r\n\
                    bo@acme.com;;\r\n";
        assert_eq!(
            read(text),
            [
                (
                    2,
                    "ana@acme.com".into(),
                    Some("Ruiz; Ana".into()),
                    RowRole::Name("client_admin".into())
                ),
                (4, "bo@acme.com".into(), None, RowRole::Unset),
            ]
        );
    }

    #[test]
    fn quoted_commas_and_quotes_follow_rfc_4180() {
        let text = "name,email\n\"Smith, \"\"Jo\"\"\", jo@acme.com\n";
        assert_eq!(
            read(text),
            [(
                2,
                "jo@acme.com".into(),
                Some("Smith, \"Jo\"".into()),
                RowRole::Unset
            )]
        );
    }

    #[test]
    fn a_file_without_an_email_column_rows_or_utf8_is_one_sentence() {
        assert_eq!(
            refusal(b"name,role\nAna,client_user\n").0,
            "no_email_column"
        );
        assert_eq!(refusal(b"email\n\n").0, "no_rows");
        let (code, message) = refusal(b"email\nana@acme.com\nb\xF6rje@acme.com\n");
        assert_eq!(code, "file_not_utf8");
        assert!(message.contains("line 3"), "{message}");
        let big = vec![b'a'; MAX_FILE_BYTES + 1];
        assert_eq!(refusal(&big).0, "file_too_large");
    }

    #[test]
    fn a_thousand_rows_are_read_and_one_more_is_refused() {
        let mut text = String::from("email\n");
        for i in 0..MAX_ROWS {
            text.push_str(&format!("p{i}@acme.com\n"));
        }
        assert_eq!(read_batch_file(text.as_bytes()).unwrap().len(), MAX_ROWS);
        text.push_str("one.more@acme.com\n");
        assert!(matches!(
            read_batch_file(text.as_bytes()),
            Err(Error::TooManyRows { .. })
        ));
    }
}
