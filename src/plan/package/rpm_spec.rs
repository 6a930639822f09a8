//! The spec rpmbuild builds the `.rpm` from: the payload is copied from a
//! prepared tree, nothing is compiled, stripped or post-processed (a
//! stripped module loses its signature), and every source of variation is
//! pinned: build host, build time and file times from SOURCE_DATE_EPOCH.

use std::path::Path;

use super::{scripts, BinaryPackage};
use crate::plan::package::msg;

/// The package release (the version is the module's).
pub const RELEASE: &str = "1";

/// The spec for `p`, whose payload is prepared under `tree`.
pub fn spec(p: &BinaryPackage, tree: &Path) -> String {
    let r = &p.record;
    let mut files: Vec<&str> = p.files.iter().map(|f| f.dest.as_str()).collect();
    files.push(&p.record_dest);
    files.sort();
    let files: String = files
        .iter()
        .map(|f| format!("%attr(0644,root,root) {f}\n"))
        .collect();
    let k = &r.kernel;
    format!(
        "%define _buildhost dkms-hook\n\
         %define use_source_date_epoch_as_buildtime 1\n\
         %define clamp_mtime_to_source_date_epoch 1\n\
         %define _build_id_links none\n\
         %define debug_package %{{nil}}\n\
         %define __os_install_post %{{nil}}\n\
         %define _build_name_fmt %%{{NAME}}-%%{{VERSION}}-%%{{RELEASE}}.%%{{ARCH}}.rpm\n\
         Name: {name}\n\
         Version: {version}\n\
         Release: {RELEASE}\n\
         Summary: {summary}\n\
         License: {license}\n\
         Requires: {depends}\n\
         Conflicts: {conflicts}\n\
         AutoReqProv: no\n\
         \n\
         %description\n\
         {description}\n\
         %install\n\
         mkdir -p %{{buildroot}}\n\
         cp -a '{tree}/.' %{{buildroot}}/\n\
         \n\
         %post\n\
         {post}\n\
         %postun\n\
         {postun}\n\
         %files\n\
         {files}",
        name = p.name,
        version = p.version,
        summary = msg::package_summary(&r.module, &r.version, k),
        license = p.license,
        depends = p.depends,
        conflicts = p.conflicts,
        description = msg::package_description(&r.module, k, &p.conflicts),
        tree = tree.display(),
        post = scripts::depmod_body(k, true),
        postun = scripts::depmod_body(k, false),
    )
}
