//! The FIT wire format, decoded as it streams by: the file header and its CRC, definition
//! messages in either byte order, normal and compressed-timestamp record headers, developer
//! fields, chained files and the file CRC. Data messages are handed to the caller as they are
//! read, as raw bytes with their layout, so the interpretation (`super`) reads only the fields
//! it needs, with no names or maps per message: that is where the speed is.
//!
//! Every error names the byte it was found at and says what a runner can do about it. Nothing
//! here allocates more than a definition's field list (at most 255 entries, bounded by the
//! format itself), so a forged size cannot make it reserve memory.

use crate::export::fit::crc16;

/// A FIT file's header is 12 bytes (older writers) or 14 (with a header CRC).
const HEADER_SHORT: usize = 12;
const HEADER_LONG: usize = 14;

/// Dates below this are seconds since the device was switched on, not since the FIT epoch (the
/// FIT profile's `date_time` minimum).
pub(crate) const FIRST_ABSOLUTE_TIME: u32 = 0x1000_0000;

/// Why the bytes are not a FIT file we can read. Each names the byte where it went wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum DecodeError {
    #[error("{len} bytes is too short for a FIT header")]
    TooShort { len: usize },
    #[error("at byte {at}: no FIT header (expected \".FIT\" at byte {})", at + 8)]
    NoHeader { at: usize },
    #[error(
        "at byte {len}: the file is cut short: its header announces {expected} bytes, it has {len}"
    )]
    CutShort { expected: u64, len: usize },
    #[error("at byte {at}: the file is damaged: its header checksum does not match the header")]
    HeaderCrc { at: usize },
    /// The file CRC covers everything: where the damage is cannot be told, so no byte is named.
    #[error("the file is damaged: its checksum does not match its contents")]
    FileCrc,
    #[error(
        "at byte {at}: a message uses a layout the file never defined (damaged, or not written by a watch)"
    )]
    Undefined { at: usize },
    #[error("at byte {at}: a message layout is cut short by the end of the data")]
    DefinitionCutShort { at: usize },
    #[error("at byte {at}: a message layout names byte order {value}, which FIT does not have")]
    Architecture { at: usize, value: u8 },
    #[error("at byte {at}: the last message runs {by} bytes past the end of the data")]
    Overrun { at: usize, by: usize },
}

/// A field of a definition: its number, where it sits in the message, its size and base type.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FieldDef {
    pub num: u8,
    pub base: u8,
    pub size: u8,
    pub offset: u32,
}

/// A developer field of a definition: which developer (index) and field, where, how long.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DevFieldDef {
    pub dev_index: u8,
    pub num: u8,
    pub size: u8,
    pub offset: u32,
}

#[derive(Debug, Clone, Default)]
struct Definition {
    global: u16,
    big_endian: bool,
    fields: Vec<FieldDef>,
    dev: Vec<DevFieldDef>,
    size: usize,
    /// Where the timestamp (field 253) is, when it is a 4-byte field.
    timestamp: Option<usize>,
}

/// One data message as read: its global number, where it starts, its layout and bytes, and its
/// time (from field 253 or a compressed-timestamp header).
pub(crate) struct Message<'a> {
    pub global: u16,
    pub at: usize,
    pub timestamp: Option<u32>,
    pub big_endian: bool,
    pub fields: &'a [FieldDef],
    pub dev: &'a [DevFieldDef],
    pub data: &'a [u8],
}

impl Message<'_> {
    /// The bytes of a field.
    pub fn bytes(&self, f: &FieldDef) -> &[u8] {
        let start = f.offset as usize;
        &self.data[start..start + usize::from(f.size)]
    }

    /// The first value of a numeric field, `None` for the base type's invalid value.
    pub fn value(&self, f: &FieldDef) -> Option<f64> {
        number(f.base, self.bytes(f), self.big_endian)
    }

    /// The value of field `num`, when the message has it and it is valid.
    pub fn get(&self, num: u8) -> Option<f64> {
        self.fields
            .iter()
            .find(|f| f.num == num)
            .and_then(|f| self.value(f))
    }

    /// A string field: the bytes up to the first NUL, `None` when empty or not UTF-8.
    pub fn text(&self, num: u8) -> Option<&str> {
        let f = self.fields.iter().find(|f| f.num == num)?;
        let b = self.bytes(f);
        let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
        std::str::from_utf8(&b[..end])
            .ok()
            .filter(|s| !s.is_empty())
    }

    /// The bytes of a developer field.
    pub fn dev_bytes(&self, f: &DevFieldDef) -> &[u8] {
        let start = f.offset as usize;
        &self.data[start..start + usize::from(f.size)]
    }
}

/// Reads the first value of base type `base` from `b`: `None` when the bytes are too few for
/// the type, the type is not numeric, or the value is the type's "invalid" sentinel (what
/// devices write for "no reading").
pub(crate) fn number(base: u8, b: &[u8], big_endian: bool) -> Option<f64> {
    macro_rules! read {
        ($t:ty) => {{
            const N: usize = std::mem::size_of::<$t>();
            let a: [u8; N] = b.get(..N)?.try_into().ok()?;
            if big_endian {
                <$t>::from_be_bytes(a)
            } else {
                <$t>::from_le_bytes(a)
            }
        }};
    }
    let v = match base & 0x1F {
        // enum, uint8, byte
        0 | 2 | 13 => {
            let v = *b.first()?;
            (v != 0xFF).then_some(f64::from(v))?
        }
        1 => {
            let v = *b.first()? as i8;
            (v != 0x7F).then_some(f64::from(v))?
        }
        10 => {
            let v = *b.first()?;
            (v != 0).then_some(f64::from(v))?
        }
        3 => {
            let v = read!(i16);
            (v != 0x7FFF).then_some(f64::from(v))?
        }
        4 => {
            let v = read!(u16);
            (v != 0xFFFF).then_some(f64::from(v))?
        }
        11 => {
            let v = read!(u16);
            (v != 0).then_some(f64::from(v))?
        }
        5 => {
            let v = read!(i32);
            (v != 0x7FFF_FFFF).then_some(f64::from(v))?
        }
        6 => {
            let v = read!(u32);
            (v != 0xFFFF_FFFF).then_some(f64::from(v))?
        }
        12 => {
            let v = read!(u32);
            (v != 0).then_some(f64::from(v))?
        }
        8 => {
            let v = read!(f32);
            v.is_finite().then_some(f64::from(v))?
        }
        9 => {
            let v = read!(f64);
            v.is_finite().then_some(v)?
        }
        14 => {
            let v = read!(i64);
            (v != i64::MAX).then_some(v as f64)?
        }
        15 => {
            let v = read!(u64);
            (v != u64::MAX).then_some(v as f64)?
        }
        16 => {
            let v = read!(u64);
            (v != 0).then_some(v as f64)?
        }
        // string (7) and unknown types are not numbers
        _ => return None,
    };
    Some(v)
}

/// The length of the FIT file starting at `at`, from its header, checked against the bytes.
fn file_length(bytes: &[u8], at: usize) -> Result<usize, DecodeError> {
    let rest = &bytes[at..];
    if rest.len() < HEADER_SHORT {
        if at == 0 {
            return Err(DecodeError::TooShort { len: rest.len() });
        }
        return Err(DecodeError::NoHeader { at });
    }
    let header = usize::from(rest[0]);
    if !(header == HEADER_SHORT || header == HEADER_LONG) || &rest[8..12] != b".FIT" {
        return Err(DecodeError::NoHeader { at });
    }
    let data = u64::from(u32::from_le_bytes([rest[4], rest[5], rest[6], rest[7]]));
    let expected = header as u64 + data + 2;
    if (rest.len() as u64) < expected {
        return Err(DecodeError::CutShort {
            expected: at as u64 + expected,
            len: bytes.len(),
        });
    }
    Ok(expected as usize)
}

/// Checks one file's header CRC (when it has one) and file CRC.
fn check_crcs(file: &[u8], at: usize) -> Result<(), DecodeError> {
    let header = usize::from(file[0]);
    if header == HEADER_LONG {
        let stored = u16::from_le_bytes([file[12], file[13]]);
        // A header CRC of 0 means the writer did not compute one.
        if stored != 0 && stored != crc16(&file[..12]) {
            return Err(DecodeError::HeaderCrc { at: at + 12 });
        }
    }
    // The CRC of a file followed by its own CRC is 0.
    if crc16(file) != 0 {
        return Err(DecodeError::FileCrc);
    }
    Ok(())
}

/// Decodes `bytes` as one FIT file or several chained ones, calling `on` for each data message
/// in order. Bytes after the first file that are not a complete, intact FIT file are left out
/// (some tools pad files, and a stray tail is no reason to lose the activity); errors in the
/// first file, or in a later file that is intact, are errors.
pub(crate) fn decode(bytes: &[u8], mut on: impl FnMut(&Message<'_>)) -> Result<(), DecodeError> {
    let first = file_length(bytes, 0)?;
    check_crcs(&bytes[..first], 0)?;
    decode_file(bytes, 0, first, &mut on)?;
    let mut at = first;
    while at < bytes.len() {
        let Ok(len) = file_length(bytes, at) else {
            break;
        };
        let file = &bytes[at..at + len];
        if check_crcs(file, at).is_err() || check_framing(bytes, at, len).is_err() {
            break;
        }
        decode_file(bytes, at, len, &mut on)?;
        at += len;
    }
    Ok(())
}

/// Reads the definitions at `pos`: returns it and where the next record starts.
fn read_definition(
    data: &[u8],
    pos: usize,
    end: usize,
    header: u8,
) -> Result<(Definition, usize), DecodeError> {
    let at = pos;
    let cut = DecodeError::DefinitionCutShort { at };
    let get = |from: usize, n: usize| -> Result<&[u8], DecodeError> {
        from.checked_add(n)
            .filter(|&e| e <= end)
            .map(|e| &data[from..e])
            .ok_or(cut.clone())
    };
    let fixed = get(pos + 1, 5)?;
    let big_endian = match fixed[1] {
        0 => false,
        1 => true,
        value => return Err(DecodeError::Architecture { at, value }),
    };
    let global = if big_endian {
        u16::from_be_bytes([fixed[2], fixed[3]])
    } else {
        u16::from_le_bytes([fixed[2], fixed[3]])
    };
    let n = usize::from(fixed[4]);
    let mut next = pos + 6;
    let raw = get(next, 3 * n)?;
    next += 3 * n;
    let mut def = Definition {
        global,
        big_endian,
        fields: Vec::with_capacity(n),
        ..Definition::default()
    };
    let mut offset = 0usize;
    for f in raw.chunks_exact(3) {
        let (num, size, base) = (f[0], f[1], f[2]);
        if num == 253 && size == 4 {
            def.timestamp = Some(offset);
        }
        def.fields.push(FieldDef {
            num,
            base,
            size,
            offset: offset as u32,
        });
        offset += usize::from(size);
    }
    if header & 0x20 != 0 {
        let nd = usize::from(get(next, 1)?[0]);
        next += 1;
        let raw = get(next, 3 * nd)?;
        next += 3 * nd;
        def.dev.reserve_exact(nd);
        for f in raw.chunks_exact(3) {
            def.dev.push(DevFieldDef {
                num: f[0],
                size: f[1],
                dev_index: f[2],
                offset: offset as u32,
            });
            offset += usize::from(f[1]);
        }
    }
    def.size = offset;
    Ok((def, next))
}

/// Decodes the records of the file at `start..start + len` of `bytes`.
fn decode_file(
    bytes: &[u8],
    start: usize,
    len: usize,
    on: &mut impl FnMut(&Message<'_>),
) -> Result<(), DecodeError> {
    let end = start + len - 2;
    let mut pos = start + usize::from(bytes[start]);
    let mut defs: [Option<Definition>; 16] = Default::default();
    let mut last_time: Option<u32> = None;
    while pos < end {
        let h = bytes[pos];
        let at = pos;
        if h & 0x80 == 0 && h & 0x40 != 0 {
            let (def, next) = read_definition(bytes, pos, end, h)?;
            defs[usize::from(h & 0x0F)] = Some(def);
            pos = next;
            continue;
        }
        // A data message: a normal header, or a compressed one with the time offset in its
        // low five bits.
        let (local, compressed) = if h & 0x80 != 0 {
            (usize::from((h >> 5) & 0x03), Some(u32::from(h & 0x1F)))
        } else {
            (usize::from(h & 0x0F), None)
        };
        let def = defs[local].as_ref().ok_or(DecodeError::Undefined { at })?;
        let body = pos + 1;
        let next = body + def.size;
        if next > end {
            return Err(DecodeError::Overrun { at, by: next - end });
        }
        let data = &bytes[body..next];
        let mut timestamp = None;
        if let Some(off) = def.timestamp {
            let b = &data[off..off + 4];
            let t = if def.big_endian {
                u32::from_be_bytes([b[0], b[1], b[2], b[3]])
            } else {
                u32::from_le_bytes([b[0], b[1], b[2], b[3]])
            };
            if t != u32::MAX {
                timestamp = Some(t);
            }
        }
        if let (Some(offset), Some(last)) = (compressed, last_time) {
            // The offset replaces the low five bits of the last full timestamp, rolling over.
            let mut t = (last & !0x1F) | offset;
            if offset < last & 0x1F {
                t = t.wrapping_add(0x20);
            }
            timestamp = Some(t);
        }
        if timestamp.is_some() {
            last_time = timestamp;
        }
        on(&Message {
            global: def.global,
            at,
            timestamp,
            big_endian: def.big_endian,
            fields: &def.fields,
            dev: &def.dev,
            data,
        });
        pos = next;
    }
    Ok(())
}

/// Walks the record headers and definitions of the file at `start` without decoding it, to
/// tell whether a chained file is whole before any of its messages are used.
fn check_framing(bytes: &[u8], start: usize, len: usize) -> Result<(), DecodeError> {
    decode_file(bytes, start, len, &mut |_| {})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_values_are_absent_for_every_base_type() {
        assert_eq!(number(0x00, &[0xFF], false), None);
        assert_eq!(number(0x02, &[7], false), Some(7.0));
        assert_eq!(number(0x01, &[0x7F], false), None);
        assert_eq!(number(0x01, &[0xFE], false), Some(-2.0));
        assert_eq!(number(0x84, &[0xFF, 0xFF], false), None);
        assert_eq!(number(0x84, &[0x01, 0x02], true), Some(258.0));
        assert_eq!(number(0x83, &[0xFF, 0x7F], false), None);
        assert_eq!(number(0x85, &[0xFF, 0xFF, 0xFF, 0x7F], false), None);
        assert_eq!(number(0x86, &[0xFF; 4], false), None);
        assert_eq!(number(0x8C, &[0; 4], false), None);
        assert_eq!(number(0x8B, &[0; 2], false), None);
        assert_eq!(number(0x0A, &[0], false), None);
        assert_eq!(number(0x88, &[0xFF; 4], false), None);
        assert_eq!(number(0x89, &[0xFF; 8], false), None);
        assert_eq!(
            number(
                0x8E,
                &[0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F],
                false
            ),
            None
        );
        assert_eq!(number(0x8F, &[0xFF; 8], false), None);
        assert_eq!(number(0x90, &[0; 8], false), None);
        // Too few bytes for the type, and strings, are not numbers.
        assert_eq!(number(0x86, &[1, 2], false), None);
        assert_eq!(number(0x07, b"abc", false), None);
    }
}
