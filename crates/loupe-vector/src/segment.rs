//! Segment files: one batch of upserted vectors, written once and then only read,
//! through a memory map, so a search streams the page cache with no copy and a store
//! larger than memory still works.
//!
//! Layout (little-endian; every section starts on a 64-byte boundary so it can be read
//! in place as `f32`, `u16`, `i8` or `i32`):
//!
//! ```text
//! 0   magic "LPSEG2\0\0"
//! 8   dim u32, flags u32 (1 = half floats, 2 = int8)
//! 16  rows u64
//! 24  offsets u64: f32, f16, i8, scales, sums, ids; then the ids section's length u64
//! 128 sections: f32 rows, [f16 rows], [i8 rows, f32 scales, i32 sums], ids
//! ```
//! The ids section holds, per row, the record id and the file meta id (u16 length and
//! UTF-8 bytes each). Tombstone files (`.del`) hold file meta ids the same way.
//!
//! Files are written to a temporary name, fsynced and renamed into place by the caller;
//! a file is never changed after that, which is what makes mapping it sound.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use crate::quant;
use crate::scan::{Block, I8Rows};

const MAGIC: &[u8; 8] = b"LPSEG2\0\0";
const TOMBSTONE_MAGIC: &[u8; 8] = b"LPDEL2\0\0";
const HEADER: usize = 128;
const ALIGN: usize = 64;
const FLAG_F16: u32 = 1;
const FLAG_I8: u32 = 2;

/// Which quantised copies a segment carries besides the exact f32 rows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Encodings {
    /// Half floats.
    pub f16: bool,
    /// Int8 with a scale per row.
    pub i8: bool,
}

/// One row to write.
#[derive(Debug, Clone, Copy)]
pub struct Row<'a> {
    /// Record id.
    pub id: &'a str,
    /// File meta id.
    pub file_meta_id: &'a str,
    /// The vector.
    pub vector: &'a [f32],
}

fn corrupt(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("corrupt segment: {what}"),
    )
}

fn align(n: usize) -> usize {
    n.div_ceil(ALIGN) * ALIGN
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    // Ids are at most a few hundred bytes; anything longer is cut at a char boundary.
    let mut len = s.len().min(usize::from(u16::MAX));
    while !s.is_char_boundary(len) {
        len -= 1;
    }
    out.extend_from_slice(&(len as u16).to_le_bytes());
    out.extend_from_slice(&s.as_bytes()[..len]);
}

fn get_str(bytes: &mut &[u8]) -> io::Result<String> {
    let short = || corrupt("id list ends early");
    let len = usize::from(u16::from_le_bytes(
        bytes
            .get(..2)
            .ok_or_else(short)?
            .try_into()
            .map_err(|_| short())?,
    ));
    let text = bytes.get(2..2 + len).ok_or_else(short)?;
    let s = String::from_utf8(text.to_vec()).map_err(|_| corrupt("id is not UTF-8"))?;
    *bytes = &bytes[2 + len..];
    Ok(s)
}

/// Writes a segment of `rows` (all of dimension `dim`) to `out`.
pub fn write(out: &mut impl Write, dim: usize, rows: &[Row<'_>], enc: Encodings) -> io::Result<()> {
    let n = rows.len();
    let mut ids = Vec::new();
    for r in rows {
        put_str(&mut ids, r.id);
        put_str(&mut ids, r.file_meta_id);
    }
    let mut offsets = [0usize; 6];
    let mut at = HEADER;
    let sizes = [
        n * dim * 4,
        if enc.f16 { n * dim * 2 } else { 0 },
        if enc.i8 { n * dim } else { 0 },
        if enc.i8 { n * 4 } else { 0 },
        if enc.i8 { n * 4 } else { 0 },
        ids.len(),
    ];
    for (offset, size) in offsets.iter_mut().zip(sizes) {
        *offset = at;
        at = align(at + size);
    }
    let mut header = Vec::with_capacity(HEADER);
    header.extend_from_slice(MAGIC);
    header.extend_from_slice(&(dim as u32).to_le_bytes());
    let flags = (if enc.f16 { FLAG_F16 } else { 0 }) | (if enc.i8 { FLAG_I8 } else { 0 });
    header.extend_from_slice(&flags.to_le_bytes());
    header.extend_from_slice(&(n as u64).to_le_bytes());
    for offset in offsets {
        header.extend_from_slice(&(offset as u64).to_le_bytes());
    }
    header.extend_from_slice(&(ids.len() as u64).to_le_bytes());
    header.resize(HEADER, 0);
    out.write_all(&header)?;

    let mut written = HEADER;
    // Appends `bytes` to section `i`, first padding up to the section's start.
    let section =
        |out: &mut dyn Write, i: usize, bytes: &[u8], written: &mut usize| -> io::Result<()> {
            if *written < offsets[i] {
                out.write_all(&vec![0u8; offsets[i] - *written])?;
                *written = offsets[i];
            }
            out.write_all(bytes)?;
            *written += bytes.len();
            Ok(())
        };
    for r in rows {
        section(out, 0, bytemuck::cast_slice(r.vector), &mut written)?;
    }
    if enc.f16 {
        for r in rows {
            section(
                out,
                1,
                bytemuck::cast_slice(&quant::to_f16(r.vector)),
                &mut written,
            )?;
        }
    }
    if enc.i8 {
        let quantised: Vec<(Vec<i8>, f32)> = rows.iter().map(|r| quant::to_i8(r.vector)).collect();
        for (q, _) in &quantised {
            section(out, 2, bytemuck::cast_slice(q), &mut written)?;
        }
        let scales: Vec<f32> = quantised.iter().map(|(_, s)| *s).collect();
        section(out, 3, bytemuck::cast_slice(&scales), &mut written)?;
        let sums: Vec<i32> = quantised
            .iter()
            .map(|(q, _)| q.iter().map(|&x| i32::from(x)).sum())
            .collect();
        section(out, 4, bytemuck::cast_slice(&sums), &mut written)?;
    }
    section(out, 5, &ids, &mut written)?;
    Ok(())
}

/// Writes a tombstone file: the file meta ids deleted at this point of the log.
pub fn write_tombstones(out: &mut impl Write, file_meta_ids: &[String]) -> io::Result<()> {
    let mut bytes = TOMBSTONE_MAGIC.to_vec();
    bytes.extend_from_slice(&(file_meta_ids.len() as u64).to_le_bytes());
    for id in file_meta_ids {
        put_str(&mut bytes, id);
    }
    out.write_all(&bytes)
}

/// Reads a tombstone file.
pub fn read_tombstones(bytes: &[u8]) -> io::Result<Vec<String>> {
    if bytes.get(..8) != Some(TOMBSTONE_MAGIC) || bytes.len() < 16 {
        return Err(corrupt("not a tombstone file"));
    }
    let n = u64::from_le_bytes(bytes[8..16].try_into().map_err(|_| corrupt("count"))?);
    let mut rest = &bytes[16..];
    (0..n).map(|_| get_str(&mut rest)).collect()
}

/// Creates `path` with `fill`'s bytes crash-safely: a temporary file, fsync, rename,
/// fsync of the folder. A crash leaves either the old state or the whole new file.
pub fn write_atomically(
    path: &Path,
    fill: impl FnOnce(&mut BufWriter<File>) -> io::Result<()>,
) -> io::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut out = BufWriter::with_capacity(1 << 20, File::create(&tmp)?);
    fill(&mut out)?;
    let file = out.into_inner().map_err(io::IntoInnerError::into_error)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// A segment file, mapped.
#[derive(Debug)]
pub struct Segment {
    map: memmap2::Mmap,
    dim: usize,
    rows: usize,
    offsets: [usize; 6],
    flags: u32,
    /// Per row: record id and file meta id.
    pub ids: Vec<(String, String)>,
}

#[expect(
    unsafe_code,
    reason = "memory-mapping a file is unsafe only if the file changes while mapped"
)]
fn map(file: &File) -> io::Result<memmap2::Mmap> {
    // SAFETY: segment files are renamed into place complete and never written again;
    // Loupe only unlinks them, which leaves an existing mapping valid on Unix.
    unsafe { memmap2::Mmap::map(file) }
}

impl Segment {
    /// Maps and checks a segment of dimension `dim`.
    pub fn open(path: &Path, dim: usize) -> io::Result<Self> {
        let map = map(&File::open(path)?)?;
        let u64_at = |at: usize| -> io::Result<usize> {
            let bytes = map.get(at..at + 8).ok_or_else(|| corrupt("short header"))?;
            let v = u64::from_le_bytes(bytes.try_into().map_err(|_| corrupt("header"))?);
            usize::try_from(v).map_err(|_| corrupt("offset too large"))
        };
        if map.len() < HEADER || &map[..8] != MAGIC {
            return Err(corrupt("bad magic"));
        }
        let file_dim = u32::from_le_bytes(map[8..12].try_into().map_err(|_| corrupt("dim"))?);
        if file_dim as usize != dim {
            return Err(corrupt("dimension differs from its index"));
        }
        let flags = u32::from_le_bytes(map[12..16].try_into().map_err(|_| corrupt("flags"))?);
        let rows = u64_at(16)?;
        let mut offsets = [0usize; 6];
        for (i, offset) in offsets.iter_mut().enumerate() {
            *offset = u64_at(24 + 8 * i)?;
        }
        let ids_len = u64_at(72)?;
        let need = |off: usize, len: Option<usize>| {
            len.and_then(|l| off.checked_add(l))
                .is_some_and(|end| end <= map.len() && off.is_multiple_of(ALIGN))
        };
        let f32_len = rows.checked_mul(dim).and_then(|x| x.checked_mul(4));
        let mut ok = need(offsets[0], f32_len) && need(offsets[5], Some(ids_len));
        if flags & FLAG_F16 != 0 {
            ok &= need(
                offsets[1],
                rows.checked_mul(dim).and_then(|x| x.checked_mul(2)),
            );
        }
        if flags & FLAG_I8 != 0 {
            ok &= need(offsets[2], rows.checked_mul(dim))
                && need(offsets[3], rows.checked_mul(4))
                && need(offsets[4], rows.checked_mul(4));
        }
        if !ok {
            return Err(corrupt("a section lies outside the file"));
        }
        let mut rest = &map[offsets[5]..offsets[5] + ids_len];
        let ids = (0..rows)
            .map(|_| Ok((get_str(&mut rest)?, get_str(&mut rest)?)))
            .collect::<io::Result<Vec<_>>>()?;
        Ok(Self {
            map,
            dim,
            rows,
            offsets,
            flags,
            ids,
        })
    }

    /// Rows in the segment.
    pub fn rows(&self) -> usize {
        self.rows
    }

    fn bytes(&self, section: usize, len: usize) -> &[u8] {
        &self.map[self.offsets[section]..self.offsets[section] + len]
    }

    /// The exact vectors.
    pub fn f32(&self) -> &[f32] {
        // Offsets were checked to be 64-byte aligned and in bounds at open.
        bytemuck::cast_slice(self.bytes(0, self.rows * self.dim * 4))
    }

    /// The block to scan, with these live rows and this global base.
    pub fn block<'a>(&'a self, live: Option<&'a [bool]>, base: usize) -> Block<'a> {
        let n = self.rows;
        Block {
            dim: self.dim,
            f32: self.f32(),
            f16: (self.flags & FLAG_F16 != 0)
                .then(|| bytemuck::cast_slice(self.bytes(1, n * self.dim * 2))),
            i8: (self.flags & FLAG_I8 != 0).then(|| I8Rows {
                values: bytemuck::cast_slice(self.bytes(2, n * self.dim)),
                scales: bytemuck::cast_slice(self.bytes(3, n * 4)),
                sums: bytemuck::cast_slice(self.bytes(4, n * 4)),
            }),
            live,
            base,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_and_maps_back_every_section() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("1.seg");
        let vectors: Vec<Vec<f32>> = (0..5)
            .map(|r| (0..7).map(|c| (r * 7 + c) as f32 / 40.0).collect())
            .collect();
        let rows: Vec<Row> = vectors
            .iter()
            .enumerate()
            .map(|(i, v)| Row {
                id: if i == 2 { "ü-2" } else { "id" },
                file_meta_id: "f",
                vector: v,
            })
            .collect();
        let enc = Encodings {
            f16: true,
            i8: true,
        };
        write_atomically(&path, |out| write(out, 7, &rows, enc)).unwrap();
        let seg = Segment::open(&path, 7).unwrap();
        assert_eq!(seg.rows(), 5);
        assert_eq!(seg.f32(), vectors.concat().as_slice());
        assert_eq!(seg.ids[2], ("ü-2".to_string(), "f".to_string()));
        let block = seg.block(None, 0);
        assert_eq!(block.f16.unwrap().len(), 35);
        assert_eq!(block.i8.unwrap().scales.len(), 5);
        assert!(
            Segment::open(&path, 8).is_err(),
            "another dimension is refused"
        );

        // Every truncation is an error, never a panic.
        let bytes = std::fs::read(&path).unwrap();
        for cut in [0, 7, 64, HEADER, bytes.len() - 1] {
            std::fs::write(&path, &bytes[..cut]).unwrap();
            assert!(Segment::open(&path, 7).is_err(), "cut at {cut}");
        }
        let mut tomb = Vec::new();
        write_tombstones(&mut tomb, &["a".into(), "bé".into()]).unwrap();
        assert_eq!(read_tombstones(&tomb).unwrap(), ["a", "bé"]);
        assert!(read_tombstones(&tomb[..tomb.len() - 1]).is_err());
    }
}
