//! The maintainer scripts of a binary module package: depmod for its own
//! kernel only, and only when that kernel's module index exists (the
//! kernel is installed: `modules.dep` or its `System.map`), so installing
//! the package into an image without the kernel, or after the kernel went,
//! does not fail.

/// The shell body that runs `depmod -a K` when the kernel is there. With
/// `must_succeed` a depmod failure fails the script (installation); without
/// it (removal) it is ignored, so a package can always be removed.
pub fn depmod_body(kernel: &str, must_succeed: bool) -> String {
    // Kernel releases are checked names: no quote can appear in them.
    let or_true = if must_succeed { "" } else { " || true" };
    format!(
        "K='{kernel}'\n\
         if [ -e \"/lib/modules/$K/modules.dep\" ] || [ -e \"/boot/System.map-$K\" ]; then\n\
         \tdepmod -a \"$K\"{or_true}\n\
         fi\n"
    )
}

/// The `.deb`'s `postinst`: depmod on `configure`.
pub fn deb_postinst(kernel: &str) -> String {
    format!(
        "#!/bin/sh\nset -e\ncase \"$1\" in\nconfigure)\n{}\t;;\nesac\nexit 0\n",
        indent(&depmod_body(kernel, true))
    )
}

/// The `.deb`'s `postrm`: depmod on `remove` (the files are gone by then).
pub fn deb_postrm(kernel: &str) -> String {
    format!(
        "#!/bin/sh\nset -e\ncase \"$1\" in\nremove)\n{}\t;;\nesac\nexit 0\n",
        indent(&depmod_body(kernel, false))
    )
}

fn indent(body: &str) -> String {
    body.lines().map(|l| format!("\t{l}\n")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depmod_is_for_the_one_kernel_and_guarded() {
        let s = deb_postinst("6.1.0-18-amd64");
        assert!(s.starts_with("#!/bin/sh\n"));
        assert!(s.contains("K='6.1.0-18-amd64'"));
        assert!(
            s.contains("[ -e \"/lib/modules/$K/modules.dep\" ] || [ -e \"/boot/System.map-$K\" ]")
        );
        assert!(s.contains("depmod -a \"$K\"\n"));
        assert!(deb_postrm("6.1.0-18-amd64").contains("depmod -a \"$K\" || true"));
    }
}
