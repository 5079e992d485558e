//! This node's Raft id: created once per store directory and kept in a file next to
//! the database, so it survives restarts and is never reused for an empty store (a
//! wiped store directory gets a new id). Separate from the per-process server id.

use std::path::Path;

use super::types::NodeId;

const FILE: &str = "raft_node_id";

/// Reads the id in `store_dir`, or creates one (random, never 0) when the directory
/// holds no database yet. An id file missing next to an existing database is an error:
/// that store's Raft state belongs to an id we no longer know.
pub fn load_or_create(store_dir: &Path, db_exists: bool) -> Result<NodeId, String> {
    let path = store_dir.join(FILE);
    match std::fs::read_to_string(&path) {
        Ok(s) => s
            .trim()
            .parse::<NodeId>()
            .ok()
            .filter(|id| *id != 0)
            .ok_or_else(|| format!("{}: not a Raft node id: {s:?}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if db_exists {
                return Err(format!(
                    "{} is missing but the store holds data: refusing to start under a new Raft identity",
                    path.display()
                ));
            }
            std::fs::create_dir_all(store_dir).map_err(|e| e.to_string())?;
            // Small positive ids read well in logs and JSON; 2^53 keeps them exact in JS.
            let id = fastrand::u64(1..(1u64 << 53));
            let tmp = store_dir.join(format!("{FILE}.tmp"));
            std::fs::write(&tmp, id.to_string()).map_err(|e| e.to_string())?;
            let f = std::fs::File::open(&tmp).map_err(|e| e.to_string())?;
            f.sync_all().map_err(|e| e.to_string())?;
            std::fs::rename(&tmp, &path).map_err(|e| e.to_string())?;
            if let Ok(d) = std::fs::File::open(store_dir) {
                let _ = d.sync_all();
            }
            Ok(id)
        }
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_survives_and_is_not_recreated_for_existing_data() {
        let d = tempfile::tempdir().unwrap();
        let a = load_or_create(d.path(), false).unwrap();
        assert_ne!(a, 0);
        assert_eq!(load_or_create(d.path(), true).unwrap(), a);
        std::fs::remove_file(d.path().join(FILE)).unwrap();
        assert!(load_or_create(d.path(), true).is_err());
        let b = load_or_create(d.path(), false).unwrap();
        assert_ne!(a, b);
    }
}
