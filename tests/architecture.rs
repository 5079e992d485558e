//! Layer rules checked on the source text: `rocksdb` is used only inside `src/store/`.

use std::path::Path;

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn rocksdb_only_in_store() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    let store = root.join("store");
    for f in files {
        if f.starts_with(&store) {
            continue;
        }
        let text = std::fs::read_to_string(&f).unwrap();
        assert!(
            !text.contains("rocksdb::") && !text.contains("use rocksdb"),
            "{} uses rocksdb outside src/store/",
            f.display()
        );
    }
}
