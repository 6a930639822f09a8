//! `dkms-hook why`: observe ([`crate::observe::why`]), judge
//! ([`crate::report::why`]), print. Only reads. Fails (exit 1) when the
//! module would not load.

use crate::error::{Error, Result};
use crate::exec::Ctx;
use crate::layout::is_safe_component;
use crate::observe::{loaded, why};
use crate::report::Say;
use crate::text;

/// Check `module` on `kernel` (default: the running kernel under the
/// root, else this machine's) and print the checks and the verdict.
pub fn run(
    cx: &mut Ctx,
    say: &mut dyn Say,
    module: &str,
    kernel: Option<&str>,
    json: bool,
) -> Result<()> {
    let w = cx.world;
    if !is_safe_component(module) {
        return Err(Error::usage(text::invalid_name(text::NAME_MODULE, module)));
    }
    let root = &w.host.layout.root;
    let running = loaded::running_release(root)
        .or_else(|| root.is_slash().then(|| w.host.running_kernel.clone()));
    let k = kernel
        .map(str::to_string)
        .or_else(|| running.clone())
        .unwrap_or_else(|| w.host.running_kernel.clone());
    let is_running = running.as_deref() == Some(k.as_str());
    let facts = why::observe(w, module, &k, is_running);
    let v = crate::report::why::verdict(&facts);
    say.out(&if json {
        crate::report::why::render_json(&v)
    } else {
        crate::report::why::render_text(&v)
    });
    if v.loads {
        Ok(())
    } else {
        Err(Error::msg("").shown())
    }
}
