//! `dkms-hook critical`: `list` says which modules are critical and why;
//! `add` and `remove` write the `critical_modules` setting (the whole list,
//! into the file the plan chose) through the lock.

use std::path::Path;

use crate::error::{Error, Result};
use crate::exec::msg;
use crate::exec::{Ctx, Locked};
use crate::report::msg::guard as guard_msg;
use crate::report::Say;

/// `critical list`.
pub fn list(cx: &mut Ctx, say: &mut dyn Say) -> Result<()> {
    let empty = crate::observe::critical::Critical::default();
    let c = cx.world.critical().unwrap_or(&empty);
    if c.modules.is_empty() {
        say.line(guard_msg::NO_CRITICAL);
    }
    for m in &c.modules {
        say.line(&guard_msg::critical_line(
            &m.module,
            m.registered,
            &crate::plan::guard::critical_because(&m.why),
        ));
    }
    Ok(())
}

/// `critical add|remove`: write `critical_modules="value"` into `file`.
pub fn set(
    cx: &mut Ctx,
    lock: &Locked,
    say: &mut dyn Say,
    value: &[String],
    file: &Path,
    notes: &[String],
) -> Result<()> {
    let root = &cx.world.host.layout.root;
    let etc = root.join("/etc/dkms");
    let joined = value.join(" ");
    let body = guard_msg::critical_conf_file(&joined);
    let res = match file.parent() {
        Some(dir) => lock
            .create_dir_all(&etc, dir, 0o755)
            .and_then(|()| lock.write_atomic(&etc, file, body.as_bytes(), 0o644)),
        None => Err(std::io::Error::from(std::io::ErrorKind::InvalidInput)),
    };
    res.map_err(|e| Error::io(msg::CANNOT_WRITE, file, e))?;
    say.line(&guard_msg::critical_written(&root.inside(file), &joined));
    for n in notes {
        say.line(n);
    }
    Ok(())
}
