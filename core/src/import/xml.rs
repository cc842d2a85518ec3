//! The XML reading GPX and TCX share: one streaming pass with quick-xml over the file's text,
//! the stack of open elements, and errors that say where they happened ("line 42, in
//! `<gpx><trk><trkseg><trkpt>`: ..."). quick-xml reports byte offsets; the line is counted from
//! the offset only when there is an error to report, so a good file pays nothing for it.

use quick_xml::Reader;
use quick_xml::events::Event;

use super::ImportError;

/// The text of an XML file, without a leading byte-order mark (Windows apps write one; the
/// reader would drop it without counting it in its offsets); a file that is not UTF-8 is
/// malformed.
pub(super) fn text<'a>(format: &'static str, bytes: &'a [u8]) -> Result<&'a str, ImportError> {
    let bytes = bytes.strip_prefix("\u{FEFF}".as_bytes()).unwrap_or(bytes);
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
    /// Where in `text` the reader started: it is made anew after a stretch read by
    /// [`Xml::plain_content`].
    base: usize,
    open: Vec<Open<T>>,
    /// Where the last event started.
    event_at: usize,
}

/// A quick-xml reader over `text` as the parsers want it.
fn reader_over(text: &str) -> Reader<&[u8]> {
    let mut reader = Reader::from_str(text);
    let config = reader.config_mut();
    // Whitespace between elements is not content: skipping it halves the events.
    config.trim_text(true);
    // Apps write names like "Run & Walk" unescaped; the `&` says nothing about the track.
    config.allow_dangling_amp = true;
    // End tags are matched against `Xml`'s own stack (see `Xml::close`), which also holds the
    // elements a plain stretch opened, and which a reader made anew mid-document does not know.
    config.check_end_names = false;
    config.allow_unmatched_ends = true;
    reader
}

/// One step of a stretch of the document read by [`Xml::plain_content`], for the parser to
/// replay as it would the events. Offsets are into the whole text; `at` is where the step's
/// markup or text begins, for the line of an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Step {
    Open {
        at: usize,
        name_at: usize,
        name_len: usize,
        /// `<name/>`: opened and closed at once.
        empty: bool,
    },
    Text {
        at: usize,
        from: usize,
        to: usize,
    },
    Close {
        at: usize,
    },
}

/// The most steps and the deepest nesting a plain stretch may have; anything bigger is read
/// event by event.
const PLAIN_STEPS: usize = 256;
const PLAIN_DEPTH: usize = 8;

/// Whitespace as XML (and quick-xml's trimming) counts it.
fn xml_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

impl<'a, T: Copy> Xml<'a, T> {
    pub(super) fn new(format: &'static str, text: &'a str) -> Self {
        Xml {
            format,
            text,
            reader: reader_over(text),
            base: 0,
            open: Vec::with_capacity(16),
            event_at: 0,
        }
    }

    /// The next event. A syntax error (a tag not closed, an end tag that does not match) names
    /// its line and the elements open there.
    pub(super) fn next(&mut self) -> Result<Event<'a>, ImportError> {
        self.event_at = self.base + self.reader.buffer_position() as usize;
        match self.reader.read_event() {
            Ok(e) => Ok(e),
            Err(e) => {
                let at = self.base + self.reader.error_position() as usize;
                Err(self.error_at(at, &e.to_string()))
            }
        }
    }

    /// The content of the element just opened, through its end tag, read by a plain scan
    /// instead of event by event, when it is plain XML: elements with attributes, and text with
    /// no entity, comment, CDATA section or processing instruction in it. A track point is a
    /// dozen small elements, and quick-xml's work per event is most of what a point costs; the
    /// scan is a third of it. The steps land in `steps`, for the parser to replay; the returned
    /// offset is where the end tag ends, for [`Xml::resume_at`] once the steps are replayed.
    /// `None` for anything else, with nothing consumed: the reader then reads the same content
    /// event by event, and reports whatever is wrong with it.
    pub(super) fn plain_content(&self, steps: &mut Vec<Step>) -> Option<usize> {
        let enclosing = self.open.last()?;
        let b = self.text.as_bytes();
        let name = |at: usize, len: usize| &b[at..at + len];
        let mut i = self.base + self.reader.buffer_position() as usize;
        let mut opened = [(0usize, 0usize); PLAIN_DEPTH];
        let mut depth = 0;
        steps.clear();
        loop {
            let text_at = i;
            let lt = i + b[i..].iter().position(|c| *c == b'<')?;
            let chunk = &b[i..lt];
            if let Some(first) = chunk.iter().position(|c| !xml_space(*c)) {
                if chunk.contains(&b'&') {
                    return None;
                }
                let last = chunk.iter().rposition(|c| !xml_space(*c))?;
                steps.push(Step::Text {
                    at: text_at,
                    from: i + first,
                    to: i + last + 1,
                });
            }
            if steps.len() >= PLAIN_STEPS {
                return None;
            }
            match *b.get(lt + 1)? {
                b'/' => {
                    let gt = lt + 2 + b[lt + 2..].iter().position(|c| *c == b'>')?;
                    let mut end = gt;
                    while end > lt + 2 && xml_space(b[end - 1]) {
                        end -= 1;
                    }
                    let found = &b[lt + 2..end];
                    let (at, len) = match depth {
                        0 => (enclosing.name_at, enclosing.name_len),
                        d => opened[d - 1],
                    };
                    if found != name(at, len) {
                        return None;
                    }
                    steps.push(Step::Close { at: lt });
                    if depth == 0 {
                        return Some(gt + 1);
                    }
                    depth -= 1;
                    i = gt + 1;
                }
                b'!' | b'?' => return None,
                _ => {
                    let name_at = lt + 1;
                    let mut j = name_at;
                    while j < b.len() && !xml_space(b[j]) && b[j] != b'>' && b[j] != b'/' {
                        j += 1;
                    }
                    let name_len = j - name_at;
                    // quick-xml reads quotes from the `<` on: a quote in a name is its case.
                    let quoted = b[name_at..j].iter().any(|c| *c == b'"' || *c == b'\'');
                    if name_len == 0
                        || quoted
                        || (b.get(j) == Some(&b'/') && b.get(j + 1) != Some(&b'>'))
                    {
                        return None;
                    }
                    // The end of the tag, past any `>` inside a quoted attribute value.
                    let mut quote = None;
                    while j < b.len() {
                        match (quote, b[j]) {
                            (None, b'>') => break,
                            (None, q @ (b'"' | b'\'')) => quote = Some(q),
                            (Some(q), c) if c == q => quote = None,
                            _ => {}
                        }
                        j += 1;
                    }
                    if j == b.len() {
                        return None;
                    }
                    let empty = b[j - 1] == b'/';
                    steps.push(Step::Open {
                        at: lt,
                        name_at,
                        name_len,
                        empty,
                    });
                    if !empty {
                        if depth == PLAIN_DEPTH {
                            return None;
                        }
                        opened[depth] = (name_at, name_len);
                        depth += 1;
                    }
                    i = j + 1;
                }
            }
        }
    }

    /// Goes on reading event by event from `at`, after a stretch [`Xml::plain_content`] read.
    pub(super) fn resume_at(&mut self, at: usize) {
        self.reader = reader_over(&self.text[at..]);
        // A new reader drops a byte-order mark it starts at without counting it.
        self.base = at
            + if self.text[at..].starts_with('\u{FEFF}') {
                '\u{FEFF}'.len_utf8()
            } else {
                0
            };
    }

    /// The text between two offsets (from a [`Step`]).
    pub(super) fn slice(&self, from: usize, to: usize) -> &'a str {
        &self.text[from..to]
    }

    /// Makes `at` the place of the current event, for a step being replayed.
    pub(super) fn replaying_at(&mut self, at: usize) {
        self.event_at = at;
    }

    /// Records an element a replayed step opened.
    pub(super) fn open_named(&mut self, tag: T, name_at: usize, name_len: usize) {
        self.open.push(Open {
            tag,
            name_at,
            name_len,
        });
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

    /// Checks that an end tag named `name` closes the innermost element: a document whose
    /// tags cross is malformed, in the words quick-xml uses.
    pub(super) fn expect_end(&self, name: &str) -> Result<(), ImportError> {
        let Some(o) = self.open.last() else {
            return Err(self.error(&format!(
                "ill-formed document: close tag `</{name}>` does not match any open tag"
            )));
        };
        let expected = self
            .text
            .get(o.name_at..o.name_at + o.name_len)
            .unwrap_or("?");
        if expected != name {
            return Err(self.error(&format!(
                "ill-formed document: expected `</{expected}>`, but `</{name}>` was found"
            )));
        }
        Ok(())
    }

    /// Closes the innermost element (after [`Xml::expect_end`], for an end tag).
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
    // The reader already trims element text; trimming again is only for attribute values,
    // and costs as much as the parse when done unasked.
    let padded = |b: Option<&u8>| b.is_some_and(|b| b.is_ascii_whitespace());
    let s = if padded(s.as_bytes().first()) || padded(s.as_bytes().last()) {
        s.trim()
    } else {
        s
    };
    s.parse::<f64>().ok().filter(|v| v.is_finite())
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

    /// The steps of the plain scan over the content of the document's first element, or
    /// `None` when it leaves the content to the event reader.
    fn plain(doc: &str) -> Option<(Vec<String>, usize)> {
        let mut xml: Xml<()> = Xml::new("test", doc);
        match xml.next().unwrap() {
            Event::Start(e) => xml.open((), e.name().as_ref().len()),
            other => panic!("{other:?}"),
        }
        let mut steps = Vec::new();
        let end = xml.plain_content(&mut steps)?;
        let shown = steps
            .iter()
            .map(|s| match *s {
                Step::Open {
                    name_at,
                    name_len,
                    empty,
                    ..
                } => format!(
                    "<{}{}>",
                    &doc[name_at..name_at + name_len],
                    ["", "/"][empty as usize]
                ),
                Step::Text { from, to, .. } => doc[from..to].to_string(),
                Step::Close { .. } => "</>".to_string(),
            })
            .collect();
        Some((shown, end))
    }

    #[test]
    fn the_plain_scan_reads_plain_content_and_leaves_the_rest() {
        let doc =
            "<p a=\"1\"><t:ele>\n 35.5 </t:ele ><link href='a>b/'><x/></link><y />\n</p> <q/>";
        let (steps, end) = plain(doc).unwrap();
        assert_eq!(
            steps,
            [
                "<t:ele>", "35.5", "</>", "<link>", "<x/>", "</>", "<y/>", "</>"
            ]
        );
        assert_eq!(&doc[end..], " <q/>", "it stops after the element's end tag");
        for odd in [
            "<p><!-- c --></p>",
            "<p><e><![CDATA[1]]></e></p>",
            "<p><e>3&#53;</e></p>",
            "<p><?pi?></p>",
            "<p><e>1</f></p>",
            "<p><e>1</e>",
            "<p><e a=\"1></e></p>",
            "<p><a/b></a/b></p>",
            "<p><e\"x>\"</e\"x>\"></p>",
            "<p><a><b><c><d><e><f><g><h><i><j/></i></h></g></f></e></d></c></b></a></p>",
        ] {
            assert_eq!(plain(odd), None, "{odd}");
        }
        let long = format!("<p>{}</p>", "<s>1</s>".repeat(100));
        assert_eq!(plain(&long), None, "more steps than one scan takes");
    }

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
