// The migrations are embedded at compile time by refinery's macro, which does not tell cargo
// about the directory: without this, a migration added to it is missing from an incremental
// build.
fn main() {
    println!("cargo:rerun-if-changed=../../migrations");
}
