//! What building for one kernel needs to know beyond where its headers are:
//! the signing hash and the compiler its configuration names, and the
//! variables of framework.conf's `build_environment` file. Observed once,
//! before a plan that builds runs (`Facts::build_facts`), so no build reads
//! the configuration again or starts bash for the environment file.

use crate::child::in_path;
use crate::observe::kernel::{config_file_value, KernelFacts};

/// A kernel's build facts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildFacts {
    /// The kernel configuration exists (signing needs it).
    pub config_exists: bool,
    /// CONFIG_MODULE_SIG_HASH: the kernel can check module signatures.
    pub sig_hash: Option<String>,
    /// CC/KERNEL_CC and LD/KERNEL_LD as upstream picks them from the
    /// configuration (the compiler must exist), then `build_environment`'s
    /// variables.
    pub env: Vec<(String, String)>,
}

impl BuildFacts {
    /// Observe them for `kernel`, with the variables of the
    /// `build_environment` file already read.
    pub fn observe(kernel: &KernelFacts, build_environment: &[(String, String)]) -> BuildFacts {
        let cfg = &kernel.config;
        let mut env = Vec::new();
        if let Some(text) = config_file_value(cfg, "CONFIG_CC_VERSION_TEXT") {
            if let Some(cc) = text.split_whitespace().next() {
                if in_path(cc) {
                    env.push(("CC".to_string(), cc.to_string()));
                    env.push(("KERNEL_CC".to_string(), cc.to_string()));
                }
            }
        }
        if config_file_value(cfg, "CONFIG_CC_IS_CLANG").as_deref() == Some("y") && in_path("clang")
        {
            env.push(("CC".into(), "clang".into()));
            env.push(("KERNEL_CC".into(), "clang".into()));
        }
        if config_file_value(cfg, "CONFIG_LD_IS_LLD").as_deref() == Some("y") && in_path("ld.lld") {
            env.push(("LD".into(), "ld.lld".into()));
            env.push(("KERNEL_LD".into(), "ld.lld".into()));
        }
        env.extend(build_environment.iter().cloned());
        BuildFacts {
            config_exists: cfg.is_file(),
            sig_hash: config_file_value(cfg, "CONFIG_MODULE_SIG_HASH"),
            env,
        }
    }
}
