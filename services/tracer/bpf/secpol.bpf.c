// SPDX-License-Identifier: GPL-2.0
/* The kernel side of secpoltrace.
 *
 * Watches capability checks (tp_btf/cap_capable), path attach (AF_UNIX bind, mount),
 * links (symlink, symlinkat), channel connects (AF_UNIX connect), connections to
 * other hosts, signals to processes in another cgroup, exec and exit, and hands
 * `struct sp_event` records to user space through one ring buffer.
 *
 * Cost: a capability check leaves the kernel only the first time it is seen for a
 * (process, cgroup, capability, value, root/non-root, verdict, probe) key, unless
 * `repeat` is set. A full ring buffer is counted in `lost`, never silent.
 *
 * NOAUDIT probes: the tracepoint has no `opts`, so the kernel stack tells: a check
 * whose first frames lie in one of the `noaudit` text ranges (ns_capable_noaudit,
 * has_ns_capability_noaudit, cap_vm_enough_memory, ...; user space fills them from
 * /proc/kallsyms) is a probe. The stack is only taken for checks not yet reported.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "events.h"

char LICENSE[] SEC("license") = "GPL";

#define AF_UNIX 1
#define AF_INET 2
#define AF_INET6 10
#define PF_KTHREAD 0x00200000
#define CAP_NET_BIND_SERVICE 10
#define EINPROGRESS 115

/* Set by user space before load. */
const volatile __u32 repeat = 0;
const volatile __u32 self_tgid = 0;
const volatile __u32 nranges = 0;
const volatile struct sp_range noaudit[SP_MAX_RANGES] = {};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 * 1024 * 1024);
} events SEC(".maps");

/* Records lost to a full ring buffer, per CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} lost SEC(".maps");

struct seen_key {
	__u32 tgid;
	__u32 cap;
	__u64 cgid;
	__u64 start;
	__u64 value;
	__u32 bits; /* SP_F_ROOT | SP_F_HAS_VALUE | denied << 8 */
	__u32 pad;
};

/* What was already reported: bit 0 a real check, bit 1 a probe. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct seen_key);
	__type(value, __u32);
} seen SEC(".maps");

/* A syscall between its entry and its exit, by thread id. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, __u32);
	__type(value, struct sp_event);
} pending SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sp_event);
} scratch SEC(".maps");

struct sys_enter_ctx {
	__u64 common;
	__s32 nr;
	__u32 pad;
	__u64 args[6];
};

struct sys_exit_ctx {
	__u64 common;
	__s32 nr;
	__u32 pad;
	__s64 ret;
};

static __always_inline void count_lost(void)
{
	__u32 zero = 0;
	__u64 *n = bpf_map_lookup_elem(&lost, &zero);
	if (n)
		__sync_fetch_and_add(n, 1);
}

static __always_inline __u64 task_cgid(struct task_struct *t)
{
	return BPF_CORE_READ(t, cgroups, dfl_cgrp, kn, id);
}

/* Whether the current task is one to watch: a user process other than the tracer. */
static __always_inline bool watched(struct task_struct *task)
{
	if (BPF_CORE_READ(task, flags) & PF_KTHREAD)
		return false;
	return BPF_CORE_READ(task, tgid) != self_tgid;
}

static __always_inline void fill_common(struct sp_event *e, struct task_struct *task, __u32 kind)
{
	__u64 id = bpf_get_current_pid_tgid();
	e->kind = kind;
	e->tgid = id >> 32;
	e->tid = (__u32)id;
	e->uid = BPF_CORE_READ(task, real_cred, uid.val);
	e->euid = BPF_CORE_READ(task, real_cred, euid.val);
	e->ret = 0;
	e->cgid = bpf_get_current_cgroup_id();
	e->time_ns = bpf_ktime_get_boot_ns();
	e->start_ns = BPF_CORE_READ(task, group_leader, start_boottime);
	e->cap = 0;
	e->flags = 0;
	e->value = 0;
	e->target_cgid = 0;
	e->target_pid = 0;
	e->sig = 0;
	e->family = 0;
	e->port = 0;
	e->dirfd = 0;
	e->pad = 0;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
}

static __always_inline struct sp_event *scratch_event(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&scratch, &zero);
}

static __always_inline bool in_noaudit(__u64 ip)
{
	for (__u32 r = 0; r < SP_MAX_RANGES; r++) {
		if (r >= nranges)
			break;
		if (ip >= noaudit[r].start && ip < noaudit[r].end)
			return true;
	}
	return false;
}

static __always_inline bool is_probe(void *ctx)
{
	__u64 stack[SP_STACK_DEPTH];
	long n = bpf_get_stack(ctx, stack, sizeof(stack), 0);
	if (n <= 0)
		return false;
	for (int i = 0; i < SP_STACK_DEPTH; i++) {
		if (i * 8 >= n)
			break;
		if (in_noaudit(stack[i]))
			return true;
	}
	return false;
}

/* The start of every syscall-entry handler: for a watched task, the per-CPU scratch
 * event with the common fields filled and the paths empty; NULL otherwise. */
static __always_inline struct sp_event *begin_syscall(__u32 kind)
{
	struct task_struct *task = bpf_get_current_task_btf();
	if (!watched(task))
		return NULL;
	struct sp_event *e = scratch_event();
	if (!e)
		return NULL;
	fill_common(e, task, kind);
	e->path[0] = 0;
	e->path2[0] = 0;
	return e;
}

SEC("tp_btf/cap_capable")
int BPF_PROG(cap_capable, const struct cred *cred, struct user_namespace *targ_ns,
	     const struct user_namespace *ns, int cap, int ret)
{
	struct task_struct *task = bpf_get_current_task_btf();
	if (!watched(task))
		return 0;
	/* Borrowed credentials (overlayfs, access(2), another task's): not this process's need. */
	if (cred != BPF_CORE_READ(task, real_cred))
		return 0;

	__u32 euid = BPF_CORE_READ(cred, euid.val);
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct seen_key key = {};
	key.tgid = BPF_CORE_READ(task, tgid);
	key.cap = cap;
	key.cgid = bpf_get_current_cgroup_id();
	key.start = BPF_CORE_READ(task, group_leader, start_boottime);
	key.bits = (euid == 0 ? SP_F_ROOT : 0) | ((ret != 0) << 8);
	if (cap == CAP_NET_BIND_SERVICE) {
		struct sp_event *p = bpf_map_lookup_elem(&pending, &tid);
		if (p && p->kind == SP_INET_BIND) {
			key.value = p->port;
			key.bits |= SP_F_HAS_VALUE;
		}
	}

	__u32 *state = NULL;
	if (!repeat) {
		state = bpf_map_lookup_elem(&seen, &key);
		if (state && (*state & 1))
			return 0;
	}
	bool probe = is_probe(ctx);
	__u32 bit = probe ? 2 : 1;
	if (state && (*state & bit))
		return 0;

	struct sp_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count_lost();
		return 0;
	}
	fill_common(e, task, SP_CAP);
	e->euid = euid;
	e->uid = BPF_CORE_READ(cred, uid.val);
	e->cap = cap;
	e->ret = ret;
	e->value = key.value;
	e->flags = (key.bits & (SP_F_ROOT | SP_F_HAS_VALUE)) | (probe ? SP_F_PROBE : 0);
	e->path[0] = 0;
	e->path2[0] = 0;
	bpf_ringbuf_submit(e, 0);

	if (!repeat) {
		__u32 v = bit;
		if (state)
			v |= *state;
		bpf_map_update_elem(&seen, &key, &v, BPF_ANY);
	}
	return 0;
}

/* Reads a socket address from user memory into e: AF_UNIX path (not abstract) or an
 * internet address. Returns the family, 0 when there is nothing to report. */
static __always_inline __u32 read_sockaddr(struct sp_event *e, const void *uaddr)
{
	__u16 family = 0;
	if (bpf_probe_read_user(&family, sizeof(family), uaddr))
		return 0;
	e->family = family;
	if (family == AF_UNIX) {
		long n = bpf_probe_read_user_str(e->path, 109, uaddr + 2);
		if (n <= 1 || e->path[0] == 0)
			return 0; /* unnamed or abstract */
		return AF_UNIX;
	}
	if (family == AF_INET || family == AF_INET6) {
		__u16 port_be = 0;
		bpf_probe_read_user(&port_be, sizeof(port_be), uaddr + 2);
		e->port = __builtin_bswap16(port_be);
		__builtin_memset(e->addr, 0, sizeof(e->addr));
		if (family == AF_INET)
			bpf_probe_read_user(e->addr, 4, uaddr + 4);
		else
			bpf_probe_read_user(e->addr, 16, uaddr + 8);
		return family;
	}
	return 0;
}

static __always_inline bool is_local(struct sp_event *e)
{
	if (e->family == AF_INET)
		return e->addr[0] == 127 || (e->addr[0] | e->addr[1] | e->addr[2] | e->addr[3]) == 0;
	/* ::, ::1, ::ffff:127.x.x.x, ::ffff:0.0.0.0 */
	__u8 any = 0;
	for (int i = 0; i < 10; i++)
		any |= e->addr[i];
	if (any)
		return false;
	if (e->addr[10] == 0 && e->addr[11] == 0) {
		return (e->addr[12] | e->addr[13] | e->addr[14]) == 0 && e->addr[15] <= 1;
	}
	if (e->addr[10] == 0xff && e->addr[11] == 0xff)
		return e->addr[12] == 127 || (e->addr[12] | e->addr[13] | e->addr[14] | e->addr[15]) == 0;
	return false;
}

static __always_inline void stash(struct sp_event *e)
{
	bpf_map_update_elem(&pending, &e->tid, e, BPF_ANY);
}

/* At a syscall's exit: the stashed record of this thread, with its result, goes out. */
static __always_inline int finish(struct sys_exit_ctx *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct sp_event *e = bpf_map_lookup_elem(&pending, &tid);
	if (!e)
		return 0;
	if (e->kind != SP_INET_BIND) {
		e->ret = ctx->ret;
		if (bpf_ringbuf_output(&events, e, sizeof(*e), 0))
			count_lost();
	}
	bpf_map_delete_elem(&pending, &tid);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_bind")
int enter_bind(struct sys_enter_ctx *ctx)
{
	struct sp_event *e = begin_syscall(SP_BIND);
	if (!e)
		return 0;
	__u32 family = read_sockaddr(e, (const void *)ctx->args[1]);
	if (family == AF_UNIX) {
		stash(e);
	} else if (family == AF_INET || family == AF_INET6) {
		e->kind = SP_INET_BIND;
		stash(e);
	}
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_bind")
int exit_bind(struct sys_exit_ctx *ctx)
{
	return finish(ctx);
}

SEC("tracepoint/syscalls/sys_enter_connect")
int enter_connect(struct sys_enter_ctx *ctx)
{
	struct sp_event *e = begin_syscall(SP_CONNECT);
	if (!e)
		return 0;
	__u32 family = read_sockaddr(e, (const void *)ctx->args[1]);
	if (family == AF_UNIX) {
		stash(e);
	} else if ((family == AF_INET || family == AF_INET6) && !is_local(e)) {
		e->kind = SP_REMOTE;
		stash(e);
	}
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_connect")
int exit_connect(struct sys_exit_ctx *ctx)
{
	return finish(ctx);
}

SEC("tracepoint/syscalls/sys_enter_mount")
int enter_mount(struct sys_enter_ctx *ctx)
{
	struct sp_event *e = begin_syscall(SP_MOUNT);
	if (!e)
		return 0;
	if (bpf_probe_read_user_str(e->path, sizeof(e->path), (const void *)ctx->args[1]) <= 0)
		return 0;
	stash(e);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_mount")
int exit_mount(struct sys_exit_ctx *ctx)
{
	return finish(ctx);
}

static __always_inline int enter_link(const void *target, int dirfd, const void *link)
{
	struct sp_event *e = begin_syscall(SP_SYMLINK);
	if (!e)
		return 0;
	e->dirfd = dirfd;
	if (bpf_probe_read_user_str(e->path, sizeof(e->path), link) <= 0)
		return 0;
	if (bpf_probe_read_user_str(e->path2, sizeof(e->path2), target) <= 0)
		e->path2[0] = 0;
	stash(e);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_symlink")
int enter_symlink(struct sys_enter_ctx *ctx)
{
	return enter_link((const void *)ctx->args[0], -100 /* AT_FDCWD */, (const void *)ctx->args[1]);
}

SEC("tracepoint/syscalls/sys_exit_symlink")
int exit_symlink(struct sys_exit_ctx *ctx)
{
	return finish(ctx);
}

SEC("tracepoint/syscalls/sys_enter_symlinkat")
int enter_symlinkat(struct sys_enter_ctx *ctx)
{
	return enter_link((const void *)ctx->args[0], (int)ctx->args[1], (const void *)ctx->args[2]);
}

SEC("tracepoint/syscalls/sys_exit_symlinkat")
int exit_symlinkat(struct sys_exit_ctx *ctx)
{
	return finish(ctx);
}

SEC("tp_btf/signal_generate")
int BPF_PROG(signal_generate, int sig, struct kernel_siginfo *info, struct task_struct *target,
	     int group, int result)
{
	struct task_struct *task = bpf_get_current_task_btf();
	if (!watched(task))
		return 0;
	/* Only signals a process sent (kill, tkill, sigqueue), not the kernel's own. */
	if ((unsigned long)info <= 1)
		return 0;
	if (BPF_CORE_READ(info, si_code) > 0)
		return 0;
	if (BPF_CORE_READ(target, flags) & PF_KTHREAD)
		return 0;
	__u64 tcg = task_cgid(target);
	__u64 cg = bpf_get_current_cgroup_id();
	if (tcg == cg)
		return 0;
	struct sp_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count_lost();
		return 0;
	}
	fill_common(e, task, SP_SIGNAL);
	e->target_pid = BPF_CORE_READ(target, tgid);
	e->target_cgid = tcg;
	e->sig = sig;
	e->ret = result;
	e->path[0] = 0;
	e->path2[0] = 0;
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(sched_process_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	struct task_struct *task = bpf_get_current_task_btf();
	if (!watched(task))
		return 0;
	struct sp_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count_lost();
		return 0;
	}
	fill_common(e, task, SP_EXEC);
	const char *filename = BPF_CORE_READ(bprm, filename);
	if (bpf_probe_read_kernel_str(e->path, sizeof(e->path), filename) <= 0)
		e->path[0] = 0;
	e->path2[0] = 0;
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(sched_process_exit, struct task_struct *p, bool group_dead)
{
	if (!group_dead)
		return 0;
	struct task_struct *task = bpf_get_current_task_btf();
	if (!watched(task))
		return 0;
	struct sp_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count_lost();
		return 0;
	}
	fill_common(e, task, SP_EXIT);
	e->ret = BPF_CORE_READ(p, exit_code);
	e->path[0] = 0;
	e->path2[0] = 0;
	bpf_ringbuf_submit(e, 0);
	return 0;
}
