//! Compiles proto/*.proto with prost-build, using the protoc shipped by the
//! protoc-bin-vendored crate so no system package is needed.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto/cluster.proto");
    println!("cargo:rerun-if-changed=proto/raft.proto");
    println!("cargo:rerun-if-changed=proto/jetstream.proto");
    // RocksDB is linked statically (.cargo/config.toml: ROCKSDB_STATIC); these are the
    // shared libraries its archive calls into (Debian: librocksdb-dev depends on them).
    println!("cargo:rerun-if-env-changed=ROCKSDB_STATIC");
    if std::env::var_os("ROCKSDB_STATIC").is_some() {
        for lib in ["snappy", "lz4", "zstd", "bz2", "z"] {
            println!("cargo:rustc-link-lib=dylib={lib}");
        }
    }
    if std::env::var_os("PROTOC").is_none() {
        let protoc = protoc_bin_vendored::protoc_bin_path()?;
        std::env::set_var("PROTOC", protoc);
    }
    prost_build::Config::new().bytes(["."]).compile_protos(
        &[
            "proto/cluster.proto",
            "proto/raft.proto",
            "proto/jetstream.proto",
        ],
        &["proto"],
    )?;
    Ok(())
}
