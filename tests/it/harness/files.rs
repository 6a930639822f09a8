//! Plain file helpers every tier needs: where the checkout is, copying a
//! tree, writing a file or a script. They panic with the path on failure, so
//! a broken setup names its cause.

use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};

/// The repository checkout this test binary was built from (where
/// Cargo.toml is): the shell files, `debian/`, `rpm/` and fixtures are read
/// from there.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The directory of the test build's binaries, `dkms` and `dkms-hook`.
pub fn bin_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_dkms-hook"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// Copies the tree `from` into `to` (created), keeping symlinks as symlinks
/// and file permissions.
pub fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap_or_else(|e| panic!("mkdir {}: {e}", to.display()));
    for entry in fs::read_dir(from).unwrap_or_else(|e| panic!("read_dir {}: {e}", from.display())) {
        let entry = entry.expect("dir entry");
        let src = entry.path();
        let dst = to.join(entry.file_name());
        let ft = entry.file_type().expect("file type");
        if ft.is_symlink() {
            symlink(fs::read_link(&src).expect("readlink"), &dst).expect("symlink");
        } else if ft.is_dir() {
            copy_tree(&src, &dst);
        } else {
            fs::copy(&src, &dst).unwrap_or_else(|e| panic!("copy {}: {e}", src.display()));
        }
    }
}

/// Writes `content` to `path`, creating parent directories.
pub fn write_file(path: &Path, content: impl AsRef<[u8]>) {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).unwrap_or_else(|e| panic!("mkdir {}: {e}", parent.display()));
    }
    fs::write(path, content).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

/// Makes `path` executable (mode 0755).
pub fn make_executable(path: &Path) {
    fs::set_permissions(path, fs::Permissions::from_mode(0o755))
        .unwrap_or_else(|e| panic!("chmod {}: {e}", path.display()));
}

/// Writes a script (or any executable) to `path`, creating parent
/// directories, with mode 0755.
pub fn write_executable(path: &Path, content: impl AsRef<[u8]>) {
    write_file(path, content);
    make_executable(path);
}
