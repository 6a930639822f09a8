// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * hello: the example module of dkms-hook. It only says hello when loaded
 * and goodbye when unloaded; see examples/try.sh.
 */
#include <linux/init.h>
#include <linux/module.h>
#include <linux/printk.h>

static int __init hello_init(void)
{
	pr_info("hello: loaded, built by dkms\n");
	return 0;
}

static void __exit hello_exit(void)
{
	pr_info("hello: unloaded\n");
}

module_init(hello_init);
module_exit(hello_exit);

MODULE_DESCRIPTION("Example module built and installed by dkms-hook");
MODULE_LICENSE("GPL");
MODULE_VERSION("1.0");
