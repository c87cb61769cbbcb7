//! A bounded on-disk queue of batches an exporter could not deliver: kept in
//! order, replayed oldest first when the destination is back, and when full
//! the oldest batches are dropped (and counted) to make room: the newest
//! data is the data an operator looks at first.
//!
//! One file per batch, `NNNNNNNNNNNNNNNNNNNN.batch`: a header line (JSON:
//! table, insert token, row count, body length and CRC-32) and the body.
//! Files are written to a temporary name and renamed, so a crash leaves
//! either the whole batch or none; a file whose header or checksum does not
//! hold is moved aside as `*.corrupt` with an error, never replayed and
//! never fatal.

use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::fs;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

/// What a spooled batch says about itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchHeader {
    /// Destination table.
    pub table: String,
    /// The token that makes a retried insert of this batch a no-op.
    pub token: String,
    /// Rows in the body.
    pub rows: u64,
    /// Body length in bytes.
    pub length: u64,
    /// CRC-32 of the body.
    pub crc32: u32,
}

/// A batch read back from the spool.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpooledBatch {
    /// Its header.
    pub header: BatchHeader,
    /// Its body.
    pub body: Vec<u8>,
}

/// One file in the queue.
#[derive(Clone, Debug)]
struct Entry {
    path: PathBuf,
    bytes: u64,
    rows: u64,
}

/// What opening or reading the spool found wrong (the spool goes on).
#[derive(Debug, thiserror::Error)]
pub enum SpoolProblem {
    /// A batch file that does not hold; it was moved aside.
    #[error("spool file {path}: {reason}; moved aside to {moved_to}")]
    Corrupt {
        /// The file.
        path: String,
        /// What is wrong with it.
        reason: String,
        /// Where it is now.
        moved_to: String,
    },
    /// An I/O error reading or moving a batch file.
    #[error("spool file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        source: io::Error,
    },
}

/// The queue.
#[derive(Debug)]
pub struct Spool {
    dir: PathBuf,
    max_bytes: u64,
    entries: VecDeque<Entry>,
    bytes: u64,
    rows: u64,
    next_seq: u64,
    /// Rows dropped to keep within `max_bytes`.
    pub dropped_rows: u64,
    /// Batches dropped to keep within `max_bytes`.
    pub dropped_batches: u64,
    /// Batch files found corrupt and moved aside.
    pub corrupt_batches: u64,
}

const SUFFIX: &str = "batch";

impl Spool {
    /// Opens (creating) the spool in `dir`, taking up the batches a previous
    /// run left there, oldest first. Problems with single files are returned
    /// for the log; the files are moved aside.
    ///
    /// # Errors
    /// When the directory cannot be created or listed.
    pub fn open(dir: &Path, max_bytes: u64) -> io::Result<(Spool, Vec<SpoolProblem>)> {
        fs::create_dir_all(dir)?;
        let mut found: Vec<(u64, PathBuf, u64)> = Vec::new();
        let mut problems = Vec::new();
        for item in fs::read_dir(dir)? {
            let item = item?;
            let path = item.path();
            let name = item.file_name();
            let name = name.to_string_lossy();
            if name.ends_with(".tmp") {
                // A write cut short by a crash: never renamed, never counted.
                let _ = fs::remove_file(&path);
                continue;
            }
            let Some(seq) = name
                .strip_suffix(&format!(".{SUFFIX}"))
                .and_then(|n| n.parse::<u64>().ok())
            else {
                continue;
            };
            let bytes = item.metadata().map(|m| m.len()).unwrap_or(0);
            found.push((seq, path, bytes));
        }
        found.sort();
        let mut spool = Spool {
            dir: dir.to_owned(),
            max_bytes,
            entries: VecDeque::new(),
            bytes: 0,
            rows: 0,
            next_seq: found.last().map_or(0, |f| f.0 + 1),
            dropped_rows: 0,
            dropped_batches: 0,
            corrupt_batches: 0,
        };
        for (_, path, bytes) in found {
            match read_batch(&path) {
                Ok(b) => {
                    spool.bytes += bytes;
                    spool.rows += b.header.rows;
                    spool.entries.push_back(Entry {
                        path,
                        bytes,
                        rows: b.header.rows,
                    });
                }
                Err(reason) => problems.push(spool.move_aside(&path, reason)),
            }
        }
        spool.evict();
        Ok((spool, problems))
    }

    /// Appends a batch, dropping the oldest ones while the spool is over its
    /// size.
    ///
    /// # Errors
    /// When the file cannot be written (disk full, permissions): the batch
    /// is not in the spool.
    pub fn push(&mut self, table: &str, token: &str, rows: u64, body: &[u8]) -> io::Result<()> {
        let header = BatchHeader {
            table: table.to_owned(),
            token: token.to_owned(),
            rows,
            length: body.len() as u64,
            crc32: crc32fast::hash(body),
        };
        let path = self.dir.join(format!("{:020}.{SUFFIX}", self.next_seq));
        let tmp = path.with_extension("tmp");
        let write = || -> io::Result<u64> {
            let mut f = fs::File::create(&tmp)?;
            let mut head = serde_json::to_vec(&header).map_err(io::Error::other)?;
            head.push(b'\n');
            f.write_all(&head)?;
            f.write_all(body)?;
            f.sync_data()?;
            fs::rename(&tmp, &path)?;
            Ok((head.len() + body.len()) as u64)
        };
        let bytes = write().inspect_err(|_| {
            let _ = fs::remove_file(&tmp);
        })?;
        self.next_seq += 1;
        self.bytes += bytes;
        self.rows += rows;
        self.entries.push_back(Entry { path, bytes, rows });
        self.evict();
        Ok(())
    }

    /// The oldest batch, read and checked. A batch that does not hold is
    /// moved aside (returned as the problem) and the next one is tried.
    pub fn front(&mut self) -> Option<Result<SpooledBatch, SpoolProblem>> {
        let entry = self.entries.front()?.clone();
        Some(match read_batch(&entry.path) {
            Ok(b) => Ok(b),
            Err(reason) => {
                self.forget_front();
                Err(self.move_aside(&entry.path, reason))
            }
        })
    }

    /// Removes the oldest batch (delivered).
    ///
    /// # Errors
    /// When its file cannot be removed (it is forgotten anyway; a later
    /// start would replay it, which the insert token makes harmless).
    pub fn pop(&mut self) -> io::Result<()> {
        match self.forget_front() {
            Some(e) => fs::remove_file(&e.path),
            None => Ok(()),
        }
    }

    fn forget_front(&mut self) -> Option<Entry> {
        let e = self.entries.pop_front()?;
        self.bytes = self.bytes.saturating_sub(e.bytes);
        self.rows = self.rows.saturating_sub(e.rows);
        Some(e)
    }

    fn evict(&mut self) {
        while self.bytes > self.max_bytes && self.entries.len() > 1 {
            if let Some(e) = self.forget_front() {
                let _ = fs::remove_file(&e.path);
                self.dropped_rows += e.rows;
                self.dropped_batches += 1;
            }
        }
        // One batch larger than the whole spool cannot be kept either.
        if self.bytes > self.max_bytes {
            if let Some(e) = self.forget_front() {
                let _ = fs::remove_file(&e.path);
                self.dropped_rows += e.rows;
                self.dropped_batches += 1;
            }
        }
    }

    fn move_aside(&mut self, path: &Path, reason: String) -> SpoolProblem {
        self.corrupt_batches += 1;
        let moved = path.with_extension("corrupt");
        match fs::rename(path, &moved) {
            Ok(()) => SpoolProblem::Corrupt {
                path: path.display().to_string(),
                reason,
                moved_to: moved.display().to_string(),
            },
            Err(source) => SpoolProblem::Io {
                path: path.display().to_string(),
                source,
            },
        }
    }

    /// Batches waiting.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Nothing waiting.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Bytes on disk.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Rows waiting.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// Reads and checks one batch file; the error says what does not hold.
fn read_batch(path: &Path) -> Result<SpooledBatch, String> {
    let data = fs::read(path).map_err(|e| e.to_string())?;
    parse_batch(&data)
}

/// Checks the bytes of a batch file (header line, length, checksum); the
/// error says what does not hold.
///
/// # Errors
/// A missing or unreadable header, a body of another length, a checksum
/// that does not match.
pub fn parse_batch(data: &[u8]) -> Result<SpooledBatch, String> {
    let newline = data
        .iter()
        .position(|b| *b == b'\n')
        .ok_or("no header line")?;
    let (head, rest) = data.split_at(newline);
    let header: BatchHeader =
        serde_json::from_slice(head).map_err(|e| format!("unreadable header: {e}"))?;
    let body = rest.get(1..).unwrap_or_default();
    if body.len() as u64 != header.length {
        return Err(format!(
            "body is {} bytes, header says {}",
            body.len(),
            header.length
        ));
    }
    let crc = crc32fast::hash(body);
    if crc != header.crc32 {
        return Err(format!(
            "checksum {crc:08x} does not match the header's {:08x}",
            header.crc32
        ));
    }
    Ok(SpooledBatch {
        header,
        body: body.to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("voxprobe-spool-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn batches_come_back_in_order_across_reopen() {
        let dir = temp_dir("order");
        let (mut s, problems) = Spool::open(&dir, 1 << 20).unwrap();
        assert!(problems.is_empty());
        s.push("calls", "t1", 2, b"a\nb\n").unwrap();
        s.push("media_streams", "t2", 1, b"c\n").unwrap();
        assert_eq!((s.len(), s.rows()), (2, 3));
        drop(s);
        let (mut s, problems) = Spool::open(&dir, 1 << 20).unwrap();
        assert!(problems.is_empty());
        let first = s.front().unwrap().unwrap();
        assert_eq!(
            (first.header.table.as_str(), first.header.token.as_str()),
            ("calls", "t1")
        );
        assert_eq!(first.body, b"a\nb\n");
        s.pop().unwrap();
        let second = s.front().unwrap().unwrap();
        assert_eq!(second.header.token, "t2");
        s.pop().unwrap();
        assert!(s.front().is_none());
        s.push("calls", "t3", 1, b"d\n").unwrap();
        let names: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1);
        // Numbering goes on after the files that were there.
        assert_eq!(names[0].to_string_lossy(), "00000000000000000002.batch");
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn full_spool_drops_the_oldest_and_counts() {
        let dir = temp_dir("full");
        let (mut s, _) = Spool::open(&dir, 400).unwrap();
        for i in 0..10 {
            s.push("calls", &format!("t{i}"), 5, &[b'x'; 60]).unwrap();
        }
        assert!(s.bytes() <= 400, "{}", s.bytes());
        assert_eq!(s.dropped_batches as usize + s.len(), 10);
        assert_eq!(s.dropped_rows, s.dropped_batches * 5);
        // What is left is the newest.
        let last_kept = s.entries.back().unwrap().path.clone();
        assert!(last_kept.ends_with("00000000000000000009.batch"));
        assert_eq!(
            s.front().unwrap().unwrap().header.token,
            format!("t{}", s.dropped_batches)
        );
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn corrupt_files_are_moved_aside_not_fatal() {
        let dir = temp_dir("corrupt");
        let (mut s, _) = Spool::open(&dir, 1 << 20).unwrap();
        s.push("calls", "good", 1, b"ok\n").unwrap();
        s.push("calls", "flipped", 1, b"ok\n").unwrap();
        drop(s);
        // Flip one body byte of the second, truncate nothing of the first;
        // add a file with no header and a leftover temporary file.
        let second = dir.join("00000000000000000001.batch");
        let mut bytes = fs::read(&second).unwrap();
        let last = bytes.len() - 2;
        bytes[last] ^= 0x20;
        fs::write(&second, bytes).unwrap();
        fs::write(dir.join("00000000000000000002.batch"), b"garbage").unwrap();
        fs::write(dir.join("00000000000000000003.tmp"), b"half").unwrap();
        let (mut s, problems) = Spool::open(&dir, 1 << 20).unwrap();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(
            problems[0].to_string().contains("checksum"),
            "{}",
            problems[0]
        );
        assert!(
            problems[1].to_string().contains("no header line"),
            "{}",
            problems[1]
        );
        assert_eq!(s.corrupt_batches, 2);
        assert_eq!(s.len(), 1);
        assert_eq!(s.front().unwrap().unwrap().header.token, "good");
        assert!(dir.join("00000000000000000001.corrupt").exists());
        assert!(!dir.join("00000000000000000003.tmp").exists());
        // A file that goes bad after opening is caught when read.
        fs::write(dir.join("00000000000000000000.batch"), b"{}\nx").unwrap();
        assert!(matches!(s.front(), Some(Err(SpoolProblem::Corrupt { .. }))));
        assert!(s.is_empty());
        let _ = fs::remove_dir_all(&dir);
    }
}
