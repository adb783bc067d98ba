//! C2SP tlog-tiles (<https://c2sp.org/tlog-tiles>): tile coordinates and paths, entry
//! bundles, and which tile hashes a proof needs.
//!
//! A tile at level `L` and index `N` holds up to 256 consecutive hashes of level `8·L` of the
//! Merkle tree: hash `i` is the Merkle Tree Hash of the leaves
//! `[(N·256 + i)·256^L, (N·256 + i + 1)·256^L)`. Paths are `tile/<L>/<N>[.p/<W>]` and
//! `tile/entries/<N>[.p/<W>]`, with `N` written in zero-padded 3-digit groups, all but the
//! last prefixed with `x` (`1234067` → `x001/x234/067`), and `.p/<W>` marking a partial
//! tile of width `W` (1 to 255).

use crate::TlogError;
use crate::hash::{HASH_LEN, Hash, root_from_leaf_hashes};
use crate::proof::Subtree;

/// Hashes in a full tile.
pub const TILE_WIDTH: u64 = 256;
/// Merkle-tree levels spanned by one tile level.
pub const TILE_HEIGHT: u8 = 8;
/// The highest tile level the spec allows in a path.
pub const MAX_TILE_LEVEL: u8 = 63;
/// The largest entry an entry bundle can carry (uint16 length prefix).
pub const MAX_ENTRY_LEN: usize = u16::MAX as usize;

/// What a tile holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TileKind {
    /// Merkle tree hashes of tile level `level` (level 0 holds leaf hashes).
    Hashes {
        /// The tile level.
        level: u8,
    },
    /// An entry bundle: the entries whose leaf hashes are the level-0 tile of the same index.
    Entries,
}

/// A tile (or entry bundle) coordinate with its width.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Tile {
    kind: TileKind,
    index: u64,
    width: u16,
}

fn hash_level(kind: TileKind) -> u8 {
    match kind {
        TileKind::Hashes { level } => level,
        TileKind::Entries => 0,
    }
}

/// `256^exp` as u128, `None` when it does not fit.
fn pow256(exp: u32) -> Option<u128> {
    256u128.checked_pow(exp)
}

impl Tile {
    /// A tile of `kind` at `index` with `width` hashes (256 for a full tile). Refuses widths
    /// outside 1..=256, levels above 63, and tiles no tree of at most `u64::MAX` leaves has.
    pub fn new(kind: TileKind, index: u64, width: u16) -> Result<Self, TlogError> {
        if width == 0 || u64::from(width) > TILE_WIDTH {
            return Err(TlogError::InvalidTilePath("width must be 1 to 256"));
        }
        let level = hash_level(kind);
        if level > MAX_TILE_LEVEL {
            return Err(TlogError::InvalidTilePath("level must be 0 to 63"));
        }
        // The smallest tree that has this tile: index·256^(L+1) + width·256^L leaves.
        let span = pow256(u32::from(level)).ok_or(TlogError::TileOutOfRange)?;
        let needed = u128::from(index)
            .checked_mul(u128::from(TILE_WIDTH))
            .and_then(|x| x.checked_add(u128::from(width)))
            .and_then(|x| x.checked_mul(span))
            .ok_or(TlogError::TileOutOfRange)?;
        if needed > u128::from(u64::MAX) {
            return Err(TlogError::TileOutOfRange);
        }
        Ok(Self { kind, index, width })
    }

    /// The tile of `kind` at `index` as it stands in a tree of `size` leaves (partial when the
    /// tree ends inside it); `None` when the tree has no hash of it yet.
    pub fn in_tree(kind: TileKind, index: u64, size: u64) -> Option<Self> {
        let level = hash_level(kind);
        let span = pow256(u32::from(level))?;
        let hashes = u128::from(size) / span;
        let start = u128::from(index).checked_mul(u128::from(TILE_WIDTH))?;
        let available = hashes.checked_sub(start).filter(|a| *a > 0)?;
        let width = u16::try_from(available.min(u128::from(TILE_WIDTH))).ok()?;
        Self::new(kind, index, width).ok()
    }

    /// What the tile holds.
    pub fn kind(&self) -> TileKind {
        self.kind
    }

    /// The tile index within its level.
    pub fn index(&self) -> u64 {
        self.index
    }

    /// The number of hashes (or entries) in the tile.
    pub fn width(&self) -> u16 {
        self.width
    }

    /// Whether the tile is partial (fewer than 256 hashes).
    pub fn is_partial(&self) -> bool {
        u64::from(self.width) < TILE_WIDTH
    }

    /// The tile's path below the log prefix.
    pub fn path(&self) -> String {
        let level = match self.kind {
            TileKind::Hashes { level } => level.to_string(),
            TileKind::Entries => "entries".to_owned(),
        };
        let mut out = format!("tile/{level}/{}", encode_index(self.index));
        if self.is_partial() {
            out.push_str(&format!(".p/{}", self.width));
        }
        out
    }

    /// Parse a tile path (`tile/<L>/<N>[.p/<W>]` or `tile/entries/<N>[.p/<W>]`) strictly.
    pub fn parse(path: &str) -> Result<Self, TlogError> {
        let parts: Vec<&str> = path.split('/').collect();
        let (Some(&"tile"), Some(level), Some(rest)) = (parts.first(), parts.get(1), parts.get(2..)) else {
            return Err(TlogError::InvalidTilePath("expected tile/<L>/<N>"));
        };
        let kind = if *level == "entries" {
            TileKind::Entries
        } else {
            let level = parse_decimal(level, 2).ok_or(TlogError::InvalidTilePath("level"))?;
            let level = u8::try_from(level).ok().filter(|l| *l <= MAX_TILE_LEVEL);
            TileKind::Hashes { level: level.ok_or(TlogError::InvalidTilePath("level must be 0 to 63"))? }
        };
        let (groups, last, width) = match rest {
            [groups @ .., last, w] if last.ends_with(".p") => {
                let w = parse_decimal(w, 3).ok_or(TlogError::InvalidTilePath("width"))?;
                let w = u16::try_from(w).ok().filter(|w| (1..256).contains(w));
                let w = w.ok_or(TlogError::InvalidTilePath("partial width must be 1 to 255"))?;
                (groups, last.strip_suffix(".p").unwrap_or(last), w)
            }
            [groups @ .., last] => (groups, *last, 256u16),
            [] => return Err(TlogError::InvalidTilePath("missing tile index")),
        };
        let index = parse_index(groups, last)?;
        Self::new(kind, index, width)
    }
}

/// Decimal without sign or leading zeros, at most `max_digits` digits.
fn parse_decimal(s: &str, max_digits: usize) -> Option<u64> {
    if s.is_empty() || s.len() > max_digits || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if s.len() > 1 && s.starts_with('0') {
        return None;
    }
    s.parse().ok()
}

fn three_digits(s: &str) -> Option<u64> {
    if s.len() == 3 && s.bytes().all(|b| b.is_ascii_digit()) { s.parse().ok() } else { None }
}

fn parse_index(groups: &[&str], last: &str) -> Result<u64, TlogError> {
    let bad = TlogError::InvalidTilePath("index must be 3-digit groups, all but the last with x");
    // u64::MAX has 20 digits: 7 groups.
    if groups.len() > 6 {
        return Err(TlogError::TileOutOfRange);
    }
    let mut n: u64 = 0;
    for (i, g) in groups.iter().enumerate() {
        let digits = g.strip_prefix('x').ok_or(bad.clone())?;
        let v = three_digits(digits).ok_or(bad.clone())?;
        if i == 0 && v == 0 {
            return Err(TlogError::InvalidTilePath("index has a leading zero group"));
        }
        n = n.checked_mul(1000).and_then(|n| n.checked_add(v)).ok_or(TlogError::TileOutOfRange)?;
    }
    let v = three_digits(last).ok_or(bad)?;
    n.checked_mul(1000).and_then(|n| n.checked_add(v)).ok_or(TlogError::TileOutOfRange)
}

fn encode_index(n: u64) -> String {
    let digits = n.to_string();
    let pad = (3 - digits.len() % 3) % 3;
    let padded = format!("{}{digits}", "0".repeat(pad));
    let groups: Vec<&str> = (0..padded.len() / 3).filter_map(|i| padded.get(i * 3..i * 3 + 3)).collect();
    let mut out = String::new();
    for (i, g) in groups.iter().enumerate() {
        if i + 1 < groups.len() {
            out.push('x');
            out.push_str(g);
            out.push('/');
        } else {
            out.push_str(g);
        }
    }
    out
}

/// A run of hashes to read from one tile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TileRead {
    /// The tile, with its width in the tree the proof is about.
    pub tile: Tile,
    /// Position of the first hash in the tile.
    pub first: u16,
    /// Number of consecutive hashes (a power of two; their Merkle Tree Hash is the subtree's).
    pub count: u16,
}

/// Where the hash of `subtree` comes from in a tree of `size` leaves: a run of hashes of one
/// tile, hashed together. `None` when the subtree is not complete in that tree.
pub fn tile_read(subtree: Subtree, size: u64) -> Option<TileRead> {
    let level = subtree.level / TILE_HEIGHT;
    let rest = u32::from(subtree.level % TILE_HEIGHT);
    let first_hash = u128::from(subtree.index) << rest;
    let tile_index = u64::try_from(first_hash / u128::from(TILE_WIDTH)).ok()?;
    let first = u16::try_from(first_hash % u128::from(TILE_WIDTH)).ok()?;
    let count = 1u16 << rest;
    let tile = Tile::in_tree(TileKind::Hashes { level }, tile_index, size)?;
    if u32::from(first) + u32::from(count) > u32::from(tile.width) {
        return None;
    }
    Some(TileRead { tile, first, count })
}

/// The tile reads behind a list of subtrees (see [`crate::proof::inclusion_subtrees`] and
/// [`crate::proof::consistency_subtrees`]), in the same order.
pub fn tile_reads(subtrees: &[Subtree], size: u64) -> Result<Vec<TileRead>, TlogError> {
    subtrees
        .iter()
        .map(|s| tile_read(*s, size).ok_or(TlogError::MissingHash { level: s.level, index: s.index }))
        .collect()
}

/// The distinct tiles a list of reads touches, in first-use order.
pub fn tiles_needed(reads: &[TileRead]) -> Vec<Tile> {
    let mut out: Vec<Tile> = Vec::new();
    for r in reads {
        if !out.contains(&r.tile) {
            out.push(r.tile);
        }
    }
    out
}

/// The hash a [`TileRead`] stands for, from the tile's bytes (`width` hashes of 32 bytes).
pub fn hash_from_tile(read: &TileRead, tile_data: &[u8]) -> Result<Hash, TlogError> {
    if tile_data.len() != usize::from(read.tile.width) * HASH_LEN {
        return Err(TlogError::InvalidTilePath("tile data does not match its width"));
    }
    let start = usize::from(read.first) * HASH_LEN;
    let end = start + usize::from(read.count) * HASH_LEN;
    let run = tile_data.get(start..end).ok_or(TlogError::InvalidTilePath("tile data too short"))?;
    let hashes: Vec<Hash> = run.chunks_exact(HASH_LEN).filter_map(|c| c.try_into().ok()).collect();
    Ok(root_from_leaf_hashes(&hashes))
}

/// An entry bundle: each entry prefixed by its length as a big-endian uint16.
pub fn entry_bundle<T: AsRef<[u8]>>(entries: &[T]) -> Result<Vec<u8>, TlogError> {
    if entries.len() as u64 > TILE_WIDTH {
        return Err(TlogError::InvalidTilePath("more than 256 entries in a bundle"));
    }
    let mut out = Vec::new();
    for e in entries {
        let len = u16::try_from(e.as_ref().len()).map_err(|_| TlogError::Entry("entry longer than 65535 bytes"))?;
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(e.as_ref());
    }
    Ok(out)
}

/// Split an entry bundle into its entries; refuses truncated bundles and more than 256 entries.
pub fn parse_entry_bundle(mut data: &[u8]) -> Result<Vec<&[u8]>, TlogError> {
    let mut out = Vec::new();
    while !data.is_empty() {
        let (len, rest) = data.split_first_chunk::<2>().ok_or(TlogError::InvalidTilePath("truncated bundle"))?;
        let len = usize::from(u16::from_be_bytes(*len));
        if rest.len() < len {
            return Err(TlogError::InvalidTilePath("truncated bundle"));
        }
        let (entry, rest) = rest.split_at(len);
        out.push(entry);
        if out.len() as u64 > TILE_WIDTH {
            return Err(TlogError::InvalidTilePath("more than 256 entries in a bundle"));
        }
        data = rest;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_encoding() {
        assert_eq!(encode_index(0), "000");
        assert_eq!(encode_index(5), "005");
        assert_eq!(encode_index(999), "999");
        assert_eq!(encode_index(1000), "x001/000");
        assert_eq!(encode_index(1_234_067), "x001/x234/067");
        assert_eq!(encode_index(u64::MAX), "x018/x446/x744/x073/x709/x551/615");
    }
}
