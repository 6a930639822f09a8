//! Ours: refusing to install over a module file another dkms module
//! installed (upstream would archive it as the kernel's original).

use std::path::Path;

/// Ours: the error (exit 6) naming the module that owns the file `there`
/// and how to resolve it.
pub fn claimed_by_another(
    there: &Path,
    owner: (&str, &str),
    k: &str,
    a: &str,
    m: &str,
    v: &str,
    file: &str,
) -> Vec<String> {
    let (m2, v2) = owner;
    vec![
        format!(
            "{} was installed by module {m2}/{v2} for kernel {k} ({a}); refusing to replace it with {m}/{v}'s.",
            there.display()
        ),
        format!(
            "Both modules install {file}: remove one of them (dkms remove {m2}/{v2} --all) before installing the other."
        ),
    ]
}
