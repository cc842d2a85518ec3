//! The XML reading GPX and TCX share: one streaming pass with quick-xml over the file's text,
//! the stack of open elements, and errors that say where they happened ("line 42, in
//! `<gpx><trk><trkseg><trkpt>`: ..."). quick-xml reports byte offsets; the line is counted from
//! the offset only when there is an error to report, so a good file pays nothing for it.

use quick_xml::Reader;
use quick_xml::events::Event;

use super::ImportError;

/// The text of an XML file; a file that is not UTF-8 is malformed.
pub(super) fn text<'a>(format: &'static str, bytes: &'a [u8]) -> Result<&'a str, ImportError> {
    std::str::from_utf8(bytes).map_err(|e| {
        let line = line_at(bytes, e.valid_up_to());
        ImportError::Malformed {
            format,
            reason: format!(
                "line {line}: not UTF-8 text (byte {} is not a character)",
                e.valid_up_to()
            ),
        }
    })
}

/// The 1-based line of byte `pos`, after any whitespace there: an event's offset is where the
/// reader stood before it, which may be the end of the previous line.
fn line_at(bytes: &[u8], pos: usize) -> usize {
    let pos = pos.min(bytes.len());
    let skip = bytes[pos..]
        .iter()
        .take_while(|b| b.is_ascii_whitespace())
        .count();
    bytes[..pos + skip].iter().filter(|b| **b == b'\n').count() + 1
}

/// An open element: the parser's own kind for it, and where its qualified name is in the text
/// (kept as offsets so that opening an element allocates nothing).
struct Open<T> {
    tag: T,
    name_at: usize,
    name_len: usize,
}

/// A streaming reader over one XML document that knows where it is.
pub(super) struct Xml<'a, T> {
    format: &'static str,
    text: &'a str,
    reader: Reader<&'a [u8]>,
    open: Vec<Open<T>>,
    /// Where the last event started.
    event_at: usize,
}

impl<'a, T: Copy> Xml<'a, T> {
    pub(super) fn new(format: &'static str, text: &'a str) -> Self {
        let mut reader = Reader::from_str(text);
        let config = reader.config_mut();
        // Whitespace between elements is not content: skipping it halves the events.
        config.trim_text(true);
        // Apps write names like "Run & Walk" unescaped; the `&` says nothing about the track.
        config.allow_dangling_amp = true;
        Xml {
            format,
            text,
            reader,
            open: Vec::with_capacity(16),
            event_at: 0,
        }
    }

    /// The next event. A syntax error (a tag not closed, an end tag that does not match) names
    /// its line and the elements open there.
    pub(super) fn next(&mut self) -> Result<Event<'a>, ImportError> {
        self.event_at = self.reader.buffer_position() as usize;
        match self.reader.read_event() {
            Ok(e) => Ok(e),
            Err(e) => {
                let at = self.reader.error_position() as usize;
                Err(self.error_at(at, &e.to_string()))
            }
        }
    }

    /// Records an element just opened by a `Start` event, with the parser's kind for it.
    pub(super) fn open(&mut self, tag: T, qualified_name_len: usize) {
        self.open.push(Open {
            tag,
            // The name follows the `<` the event started with.
            name_at: self.event_at + 1 + self.leading_space(),
            name_len: qualified_name_len,
        });
    }

    /// Closes the innermost element (quick-xml checks that the end tag matches it).
    pub(super) fn close(&mut self) -> Option<T> {
        self.open.pop().map(|o| o.tag)
    }

    /// The kind of the innermost open element.
    pub(super) fn top(&self) -> Option<T> {
        self.open.last().map(|o| o.tag)
    }

    /// The kind of the element `up` levels above the innermost (0 is the innermost).
    pub(super) fn parent(&self, up: usize) -> Option<T> {
        let n = self.open.len();
        (up < n).then(|| self.open[n - 1 - up].tag)
    }

    pub(super) fn depth(&self) -> usize {
        self.open.len()
    }

    /// Whitespace skipped before the current event (the reader trims it).
    fn leading_space(&self) -> usize {
        self.text.as_bytes()[self.event_at.min(self.text.len())..]
            .iter()
            .take_while(|b| b.is_ascii_whitespace())
            .count()
    }

    /// The open elements as written, outermost first: `<gpx><trk><trkseg>`.
    pub(super) fn path(&self) -> String {
        let mut s = String::new();
        for o in &self.open {
            let name = self
                .text
                .get(o.name_at..o.name_at + o.name_len)
                .unwrap_or("?");
            s.push('<');
            s.push_str(name);
            s.push('>');
        }
        s
    }

    /// An error at the current event: "line 42, in <gpx><trk>: what".
    pub(super) fn error(&self, what: &str) -> ImportError {
        self.error_at(self.event_at, what)
    }

    fn error_at(&self, at: usize, what: &str) -> ImportError {
        let line = line_at(self.text.as_bytes(), at);
        let reason = if self.open.is_empty() {
            format!("line {line}: {what}")
        } else {
            format!("line {line}, in {}: {what}", self.path())
        };
        ImportError::Malformed {
            format: self.format,
            reason,
        }
    }

    /// The error for a document that stops before its elements are closed.
    pub(super) fn unfinished(&self) -> ImportError {
        let line = line_at(self.text.as_bytes(), self.text.len());
        ImportError::Malformed {
            format: self.format,
            reason: format!("line {line}: the file ends inside {}", self.path()),
        }
    }

    /// A file-level error with no place in the text (no track points at all, say).
    pub(super) fn whole(&self, what: impl Into<String>) -> ImportError {
        ImportError::Malformed {
            format: self.format,
            reason: what.into(),
        }
    }
}

/// The local part of a qualified name: `hr` of `gpxtpx:hr`.
pub(super) fn local_name(qualified: &str) -> &str {
    match qualified.bytes().rposition(|b| b == b':') {
        Some(i) => &qualified[i + 1..],
        None => qualified,
    }
}

/// A number in an element or attribute, or `None` when it is not a finite number.
pub(super) fn number(s: &str) -> Option<f64> {
    s.trim().parse::<f64>().ok().filter(|v| v.is_finite())
}

/// A timestamp as GPX and TCX write it: RFC 3339, in UTC or with an offset. A time without an
/// offset (some apps drop the `Z`) is read as UTC, which is what both formats prescribe.
pub(super) fn time(s: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    let s = s.trim();
    if let Some(t) = utc_time(s.as_bytes()) {
        return Some(t);
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&chrono::Utc));
    }
    ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"]
        .iter()
        .find_map(|f| chrono::NaiveDateTime::parse_from_str(s, f).ok())
        .map(|n| n.and_utc())
}

/// The form nearly every point's time has, `2026-03-14T06:00:00Z` or `...06:00:00.123Z`, read
/// without chrono's general parser: a file has one per point, and this is most of what a GPX
/// point costs beyond the XML. Anything else (an offset, a leap second, a date that does not
/// exist) is `None`, for chrono to read or refuse.
fn utc_time(b: &[u8]) -> Option<chrono::DateTime<chrono::Utc>> {
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' {
        return None;
    }
    if b[16] != b':' || *b.last()? != b'Z' {
        return None;
    }
    let digits = |from: usize, to: usize| -> Option<u32> {
        b[from..to].iter().try_fold(0u32, |n, d| {
            d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
        })
    };
    let (year, month, day) = (digits(0, 4)?, digits(5, 7)?, digits(8, 10)?);
    let (hour, minute, second) = (digits(11, 13)?, digits(14, 16)?, digits(17, 19)?);
    let nanos = match &b[19..b.len() - 1] {
        [] => 0,
        [b'.', frac @ ..] if !frac.is_empty() && frac.len() <= 9 => {
            let n = digits(20, 20 + frac.len())?;
            n * 10u32.pow(9 - frac.len() as u32)
        }
        _ => return None,
    };
    let date = chrono::NaiveDate::from_ymd_opt(year as i32, month, day)?;
    let time = chrono::NaiveTime::from_hms_nano_opt(hour, minute, second.min(59), nanos)?;
    (second < 60).then(|| date.and_time(time).and_utc())
}

/// Whether a latitude and longitude can be a place on Earth. Some apps mark a pause with an
/// impossible one (latitude 100, say).
pub(super) fn on_earth(lat: f64, lon: f64) -> bool {
    (-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_counted_from_the_offset_after_whitespace() {
        let b = b"<a>\n  <b>\n</b></a>";
        assert_eq!(line_at(b, 0), 1);
        assert_eq!(
            line_at(b, 3),
            2,
            "the newline before <b> belongs to <b>'s line"
        );
        assert_eq!(line_at(b, b.len()), 3);
    }

    #[test]
    fn times_with_and_without_an_offset() {
        let z = time("2026-03-14T06:00:00Z").unwrap();
        assert_eq!(time("2026-03-14T07:00:00+01:00"), Some(z));
        assert_eq!(time(" 2026-03-14T06:00:00 "), Some(z));
        assert_eq!(time("2026-03-14T06:00:00.000"), Some(z));
        assert_eq!(time("yesterday"), None);
        // The quick form and chrono agree, to the nanosecond.
        for s in [
            "2026-03-14T06:00:00.5Z",
            "2026-03-14T06:00:00.123Z",
            "2026-03-14T06:00:00.123456789Z",
            "1999-12-31T23:59:59Z",
            "2024-02-29T12:00:00Z",
        ] {
            let chrono = chrono::DateTime::parse_from_rfc3339(s).unwrap();
            assert_eq!(
                utc_time(s.as_bytes()),
                Some(chrono.with_timezone(&chrono::Utc)),
                "{s}"
            );
        }
        for s in [
            "2026-02-30T06:00:00Z",
            "2026-03-14T24:00:00Z",
            "2026-03-14T06:00:00.Z",
            "2026-03-14T06:00:00.1234567890Z",
            "2026-03-14T06:00:60Z",
            "2026-03-14T06:00:00+01:00",
            "2026-03-14 06:00:00Z",
        ] {
            assert_eq!(utc_time(s.as_bytes()), None, "{s}");
        }
    }
}
