//! Tile paths (C2SP tlog-tiles vectors) and proofs rebuilt from tiles.

use std::collections::HashMap;

use idseal_tlog::proof::{consistency_proof, consistency_subtrees, inclusion_proof, inclusion_subtrees};
use idseal_tlog::tiles::{
    Tile, TileKind, entry_bundle, hash_from_tile, parse_entry_bundle, tile_read, tile_reads, tiles_needed,
};
use idseal_tlog::{Hash, HashReader, MemoryTree, Subtree, TlogError};

use crate::tree;

const L0: TileKind = TileKind::Hashes { level: 0 };

#[test]
fn spec_path_vectors() {
    // "index 1234067 will be encoded as x001/x234/067"
    assert_eq!(Tile::new(L0, 1_234_067, 256).unwrap().path(), "tile/0/x001/x234/067");
    assert_eq!(Tile::new(TileKind::Hashes { level: 2 }, 1_234_067, 17).unwrap().path(), "tile/2/x001/x234/067.p/17");
    assert_eq!(Tile::new(TileKind::Entries, 5, 112).unwrap().path(), "tile/entries/005.p/112");
    assert_eq!(Tile::new(TileKind::Entries, 1000, 256).unwrap().path(), "tile/entries/x001/000");
    for p in [
        "tile/0/000",
        "tile/0/x001/x234/067",
        "tile/1/x001/x234/067.p/255",
        "tile/entries/000.p/1",
        "tile/entries/x072/x057/x594/x037/x927/934",
        "tile/7/000.p/1",
        "tile/63/000.p/1",
    ]
    .iter()
    .filter(|p| !p.starts_with("tile/63"))
    {
        assert_eq!(Tile::parse(p).unwrap().path(), *p);
    }
    // Level 63 is syntactically allowed, but no 64-bit tree reaches it.
    assert_eq!(Tile::parse("tile/63/000.p/1"), Err(TlogError::TileOutOfRange));
}

#[test]
fn bad_paths_are_refused() {
    let bad = [
        "",
        "tile",
        "tile/",
        "tile/0",
        "tile/0/",
        "tiles/0/000",
        "/tile/0/000",
        "tile/0/000/",
        "tile/00/000",
        "tile/01/000",
        "tile/64/000",
        "tile/-1/000",
        "tile/+1/000",
        "tile/a/000",
        "tile/0/1",
        "tile/0/01",
        "tile/0/0001",
        "tile/0/-01",
        "tile/0/x001",
        "tile/0/001/002",
        "tile/0/x000/001",
        "tile/0/X001/000",
        "tile/0/x01/000",
        "tile/0/000.p/0",
        "tile/0/000.p/256",
        "tile/0/000.p/07",
        "tile/0/000.p/",
        "tile/0/000.p",
        "tile/0/000.p/1/2",
        "tile/0/000.q/1",
        "tile/0/000.p/-1",
        "tile/0/000.p/1000",
        "tile/entries/000.p/0",
        "tile/entry/000",
    ];
    for p in bad {
        assert!(Tile::parse(p).is_err(), "{p:?}");
    }
    // Huge indexes: past u64, too many groups, or tiles no 64-bit tree has.
    for p in [
        "tile/0/x018/x446/x744/x073/x709/x551/616",
        "tile/0/x001/x018/x446/x744/x073/x709/x551/615",
        "tile/0/x072/x057/x594/x037/x927/936",
        "tile/7/000",
        "tile/8/000.p/1",
        "tile/3/x999/x999/x999/999",
    ] {
        assert_eq!(Tile::parse(p), Err(TlogError::TileOutOfRange), "{p}");
    }
    assert_eq!(Tile::parse("tile/0/x072/x057/x594/x037/x927/935.p/255").unwrap().width(), 255);
    assert_eq!(Tile::parse("tile/0/x072/x057/x594/x037/x927/935"), Err(TlogError::TileOutOfRange));
}

#[test]
fn spec_tile_census() {
    // "a tree of size 70,000 will be represented by 273 full level 0 tiles, one partial level
    // 0 tile of width 112, one full level 1 tile, one partial level 1 tile of width 17, and
    // one partial level 2 tile of width 1."
    let size = 70_000;
    let l1 = TileKind::Hashes { level: 1 };
    let l2 = TileKind::Hashes { level: 2 };
    assert!((0..273).all(|n| Tile::in_tree(L0, n, size).is_some_and(|t| !t.is_partial())));
    assert_eq!(Tile::in_tree(L0, 273, size).unwrap().width(), 112);
    assert_eq!(Tile::in_tree(L0, 274, size), None);
    assert!(!Tile::in_tree(l1, 0, size).unwrap().is_partial());
    assert_eq!(Tile::in_tree(l1, 1, size).unwrap().width(), 17);
    assert_eq!(Tile::in_tree(l1, 2, size), None);
    assert_eq!(Tile::in_tree(l2, 0, size).unwrap().width(), 1);
    assert_eq!(Tile::in_tree(TileKind::Hashes { level: 3 }, 0, size), None);
    // "a tree of size 256 will be represented by a full level 0 tile and a partial level 1
    // tile of width 1."
    assert!(!Tile::in_tree(L0, 0, 256).unwrap().is_partial());
    assert_eq!(Tile::in_tree(L0, 1, 256), None);
    assert_eq!(Tile::in_tree(l1, 0, 256).unwrap().width(), 1);
    assert_eq!(Tile::in_tree(L0, 0, 0), None);
    assert_eq!(Tile::in_tree(TileKind::Hashes { level: 7 }, 0, u64::MAX).unwrap().width(), 255);
}

/// A hash reader that only sees tiles, built from a reference tree like a store would.
struct TileReader<'a> {
    tree: &'a MemoryTree,
    size: u64,
    fetched: std::cell::RefCell<HashMap<Tile, Vec<u8>>>,
}

impl TileReader<'_> {
    fn tile_data(&self, tile: Tile) -> Vec<u8> {
        let TileKind::Hashes { level } = tile.kind() else { panic!("hash tile expected") };
        let mut data = Vec::new();
        for k in 0..u64::from(tile.width()) {
            let s = Subtree { level: level * 8, index: tile.index() * 256 + k };
            data.extend_from_slice(&self.tree.subtree_hash(s).unwrap());
        }
        data
    }
}

impl HashReader for TileReader<'_> {
    type Error = TlogError;

    fn subtree_hash(&self, subtree: Subtree) -> Result<Hash, TlogError> {
        let read = tile_read(subtree, self.size)
            .ok_or(TlogError::MissingHash { level: subtree.level, index: subtree.index })?;
        let data = self.tile_data(read.tile);
        self.fetched.borrow_mut().insert(read.tile, data.clone());
        hash_from_tile(&read, &data)
    }
}

#[test]
fn proofs_from_tiles_match_proofs_from_the_tree() {
    let size = 70_000;
    let t = tree(size);
    let reader = TileReader { tree: &t, size, fetched: Default::default() };
    for index in [0, 1, 255, 256, 65_535, 65_536, 69_999, 12_345] {
        assert_eq!(inclusion_proof(&reader, index, size).unwrap(), inclusion_proof(&t, index, size).unwrap());
        let reads = tile_reads(&inclusion_subtrees(index, size).unwrap(), size).unwrap();
        assert!(tiles_needed(&reads).len() <= 6, "index {index}: {:?}", tiles_needed(&reads));
    }
    for (s1, s2) in [(1, size), (256, size), (65_536, size), (69_999, size), (300, 70_000), (4, 5)] {
        assert_eq!(consistency_proof(&reader, s1, s2).unwrap(), consistency_proof(&t, s1, s2).unwrap());
        assert!(tile_reads(&consistency_subtrees(s1, s2).unwrap(), s2).is_ok());
    }
    assert!(reader.fetched.borrow().keys().any(Tile::is_partial));
    // Tile data of the wrong width is refused.
    let read = tile_read(Subtree { level: 3, index: 1 }, size).unwrap();
    assert!(hash_from_tile(&read, &[0u8; 64]).is_err());
}

#[test]
fn entry_bundles() {
    let entries: Vec<Vec<u8>> = vec![b"".to_vec(), b"a".to_vec(), vec![7u8; 300]];
    let bundle = entry_bundle(&entries).unwrap();
    assert_eq!(&bundle[..5], &[0, 0, 0, 1, b'a']);
    let parsed = parse_entry_bundle(&bundle).unwrap();
    assert_eq!(parsed, entries.iter().map(Vec::as_slice).collect::<Vec<_>>());
    assert!(parse_entry_bundle(&bundle[..bundle.len() - 1]).is_err());
    assert!(parse_entry_bundle(&[0]).is_err());
    assert!(entry_bundle(&[vec![0u8; 65_536]]).is_err());
    assert!(entry_bundle(&vec![b"x".to_vec(); 257]).is_err());
    assert!(parse_entry_bundle(&[0u8; 2 * 257]).is_err());
}
