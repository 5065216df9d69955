// SPDX-License-Identifier: GPL-2.0
/* The kernel side of secpoltrace.
 *
 * Watches capability checks (tp_btf/cap_capable), path attach (AF_UNIX bind, mount),
 * links (symlink, symlinkat), channel connects (AF_UNIX connect), connections to
 * other hosts, signals to processes in another cgroup, exec and exit, and hands
 * records (`struct sp_event`, then its paths) to user space through one ring buffer.
 *
 * Cost: a capability check leaves the kernel only the first time it is seen for a
 * (process, cgroup, capability, value, root/non-root, verdict, probe) key, unless
 * `repeat` is set (a per-CPU cache answers most repeats before the shared hash); a
 * connect to another host, the first time for its process, program, address and result.
 * A full ring buffer is counted in `lost`, never silent. Records carry only the bytes they
 * use: a capability check is the 128-byte header.
 *
 * NOAUDIT probes: the tracepoint has no `opts`, so the kernel stack tells: a check
 * whose first frames lie in one of the `noaudit` text ranges (ns_capable_noaudit,
 * has_ns_capability_noaudit, cap_vm_enough_memory, ...; user space fills them from
 * /proc/kallsyms) is a probe. The stack is only taken for checks not yet reported.
 *
 * Paths are read whole (up to PATH_MAX, the longest the kernel accepts) at the
 * syscall's exit, when the kernel has just read them itself, into a per-CPU record;
 * only the used length goes into the ring buffer. Only syscall exits are watched: a
 * call's arguments are still in the thread's saved registers there, so nothing is kept
 * from entry to exit and no syscall pays anything at its entry.
 *
 * User and group ids: a CAP_SETUID/CAP_SETGID check made inside a set*id syscall or
 * setgroups is about the ids that call names (the ids the kernel checks: see plan_setid);
 * cap_capable reads the call and its arguments from the task's saved user registers and
 * reports the check once per id. Only setreuid and setregid, which can make two checks
 * about different ids, note at their first check which check is about which id. A call a
 * seccomp filter refused (EPERM before any check) is reported as the failed check it
 * stands for, with SP_F_SECCOMP: for a process under a filter, cap_capable marks the
 * thread as checked, and the syscall's exit tells a refusal without a check.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "events.h"

char LICENSE[] SEC("license") = "GPL";

/* A global function's argument that is the program's context (libbpf >= 1.3 has it). */
#ifndef __arg_ctx
#define __arg_ctx __attribute__((btf_decl_tag("arg:ctx")))
#endif

#define AF_UNIX 1
#define AF_INET 2
#define AF_INET6 10
#define PF_KTHREAD 0x00200000
#define CAP_SETGID 6
#define CAP_SETUID 7
#define CAP_NET_BIND_SERVICE 10
#define EPERM 1
#define EINPROGRESS 115
#define EALREADY 114
#define EISCONN 106
#define SECCOMP_MODE_FILTER 2
#define UNIX_PATH_MAX 108
#define NO_ID 0xffffffffu /* (uid_t)-1: leave this id unchanged */

/* Set by user space before load. */
const volatile __u32 repeat = 0;
const volatile __u32 self_tgid = 0;
const volatile __u32 nranges = 0;
const volatile struct sp_range noaudit[SP_MAX_RANGES] = {};
/* The text of cap_capable and of security_capable (the LSM hook most callers go through). */
const volatile struct sp_range cap_capable_text = {};
const volatile struct sp_range security_capable_text = {};

/* 1 MiB: 8192 header-only records (capability checks, exits) or about 250 with whole
 * PATH_MAX paths. After "only what is new", a busy machine sends a few thousand records a
 * second (two per process: exec and exit); the drain thread is woken for each. The pages
 * are mapped twice into the tracer, so this is 2 MiB of its resident memory. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1024 * 1024);
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

/* What was already reported: a real check by its process's key (bit 0), a probe by its
 * cgroup's key (tgid and start 0; bit 1). 16384 keys: a process makes a few dozen
 * distinct checks in its life and an evicted key only means one record again. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct seen_key);
	__type(value, __u32);
} seen SEC(".maps");

/* A CPU's memory of the checks it last found reported, in front of `seen`: the last
 * SP_CCACHE keys found there (or sent) by checks made on this CPU, with how (1: a real use
 * by the process, 2: a probe by its cgroup). A check repeated soon after by the same
 * process, which is most checks (a burst of mmaps, a loop), is answered from it without
 * hashing the 40-byte key; `seen` stays the one record of what was reported (an entry
 * here is only ever copied from it, or added with it), so an answer here is the answer
 * `seen` would give, or a key `seen` has since evicted (which costs nothing more than the
 * report it saves). Per CPU and preallocated: nothing is made for a new process or freed
 * at its exit (task storage was, about 0.7 us a process). Only cap_capable uses it, and
 * has it to itself: it runs with preemption off and never nested on one CPU (the kernel
 * skips a run of a program that is already running there). */
#define SP_CCACHE 8

struct ccache_ent {
	__u64 start; /* the process: its leader's start and its tgid */
	__u64 cgid;
	__u64 value;
	__u32 tgid;
	__u32 cap;
	__u32 bits; /* the key's bits */
	__u32 how;  /* 0: empty, 1: real use, 2: probe */
};

struct ccache {
	__u32 next; /* the entry to replace next */
	__u32 pad;
	struct ccache_ent ent[SP_CCACHE];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ccache);
} ccache SEC(".maps");

/* Where cap_capable's callers' return addresses lie on the kernel stack, in 8-byte words
 * up from the tracepoint's argument array (ctx). The chain from cap_capable to this
 * program (the tracepoint's static call, __bpf_trace_cap_capable, bpf_trace_run5) has
 * fixed frames, so the words are fixed: reading one or two of them tells a probe's
 * NOAUDIT caller without a stack walk. There are two such layouts: this program alone on
 * the tracepoint, and with other programs there too (__traceiter_cap_capable calls them
 * in turn), so two sets. User space learns them from samples of a walk and the stack
 * above ctx (`slot_sample`), taken when it sets `slot_want`; every later walk checks
 * them, and one disagreement switches a set off for good. */
struct stack_slots {
	__u32 state;  /* SLOTS_* */
	__u32 cc;     /* the return address into cap_capable (checked on every read) */
	__u32 c1;     /* the return address into cap_capable's caller */
	__u32 c2;     /* the return into the caller's caller, when the caller is security_capable */
	__u32 has_c2; /* c2 is known */
	__u32 pad;
};

#define SP_SLOT_SETS 2

enum slots_state {
	SLOTS_UNKNOWN = 0, /* not learned yet: walk */
	SLOTS_READY,       /* the words are known */
	SLOTS_OFF,         /* a walk disagreed with them: walk always */
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SP_SLOT_SETS);
	__type(key, __u32);
	__type(value, struct stack_slots);
} slots SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct slot_sample);
} slot_sample SEC(".maps");

/* Set by user space to ask for a sample; cleared when one was taken. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} slot_want SEC(".maps");

/* Counters for docs and tests: [0] probes told by the slots, [1] full stack walks. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} walks SEC(".maps");

/* A connection to another host its process already reported since its last exec: the
 * address, and the result as user space tells verdicts apart (every "allowed" result
 * is 0). User space drops such a connect anyway (one line per process, address and
 * verdict, forgotten at exec); here it never leaves the kernel, and a client that
 * connects out again and again costs no wakeup per connect. */
/* A socket address as far as a record needs it. */
struct net_addr {
	__u32 family;
	__u32 port;
	__u8 addr[16];
};

struct remote_key {
	__u32 tgid;
	__s32 ret;
	__u64 start;
	__u64 exec_id; /* the leader's self_exec_id: a new program starts afresh */
	struct net_addr a;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct remote_key);
	__type(value, __u8);
} remote_seen SEC(".maps");

/* Where a record with paths is built before it is copied into the ring buffer. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sp_record);
} scratch SEC(".maps");

/* Which set*id call a thread is in (enum setid_call). */
enum setid_call {
	ID_SET = 1, /* setuid, setgid */
	ID_SETRE,   /* setreuid, setregid */
	ID_SETRES,  /* setresuid, setresgid */
	ID_SETFS,   /* setfsuid, setfsgid */
	ID_GROUPS,  /* setgroups */
};

/* What is known of a call's ids. */
enum setid_mode {
	IDS_KNOWN = 0, /* ids[] */
	IDS_UNKNOWN,   /* a group list longer than SP_MAX_IDS or unreadable: report without a value */
	IDS_NONE,      /* setgroups with an empty list: no group gained */
};

/* The ids one set*id call or setgroups checks, and which of its checks each belongs to. */
struct setid_plan {
	__u32 cap;    /* CAP_SETUID or CAP_SETGID */
	__u32 n;      /* ids in ids[] */
	__u32 checks; /* capability checks seen so far during the call */
	__u32 mode;   /* enum setid_mode */
	__u32 ids[SP_MAX_IDS];
	__u8 check_of[SP_MAX_IDS]; /* ids[i] is about the check_of[i]-th check of the call */
};

/* By thread id, from a setreuid/setregid syscall's first check to its exit. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct setid_plan);
} setid SEC(".maps");

/* Where a plan is built (at a check, or at an exit when seccomp refused the call). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct setid_plan);
} setid_scratch SEC(".maps");

/* By thread id: a thread under a seccomp filter made a CAP_SETUID/CAP_SETGID check during
 * its current set*id call (from the check to the call's exit). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u8);
} setid_checked SEC(".maps");

/* x86_64 system call numbers (the x32 ones add __X32_SYSCALL_BIT) and the user code
 * segment of a 64-bit process. */
#define X32_SYSCALL_BIT 0x40000000
#define USER64_CS 0x33
#define NR_BIND 49
#define AT_FDCWD -100

/* The current thread's saved user registers, when it is in a 64-bit system call (NULL
 * for a 32-bit one: other numbers, other registers). A BTF pointer: fields are plain
 * loads. They hold the call's arguments from its entry to its exit. */
static __always_inline struct pt_regs *syscall_regs(struct task_struct *task)
{
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(task);
	return regs->cs == USER64_CS ? regs : NULL;
}

static __always_inline __u64 syscall_nr(struct pt_regs *regs)
{
	return regs->orig_ax & ~(__u64)X32_SYSCALL_BIT;
}

/* Reads a socket address's family, and an internet address and port, into a. Returns the
 * family of an address to report (AF_UNIX only with a path), 0 otherwise. */
static __always_inline __u32 read_sockaddr(struct net_addr *a, __u64 uaddr, __u32 addrlen)
{
	__u16 family = 0;
	if (bpf_probe_read_user(&family, sizeof(family), (const void *)uaddr))
		return 0;
	a->family = family;
	if (family == AF_UNIX) {
		char first = 0;
		if (addrlen <= 2 || bpf_probe_read_user(&first, 1, (const void *)(uaddr + 2)) || first == 0)
			return 0; /* unnamed or abstract */
		return AF_UNIX;
	}
	if (family == AF_INET || family == AF_INET6) {
		__u16 port_be = 0;
		bpf_probe_read_user(&port_be, sizeof(port_be), (const void *)(uaddr + 2));
		a->port = __builtin_bswap16(port_be);
		__builtin_memset(a->addr, 0, sizeof(a->addr));
		if (family == AF_INET)
			bpf_probe_read_user(a->addr, 4, (const void *)(uaddr + 4));
		else
			bpf_probe_read_user(a->addr, 16, (const void *)(uaddr + 8));
		return family;
	}
	return 0;
}

static __always_inline bool is_local(struct net_addr *a)
{
	if (a->family == AF_INET)
		return a->addr[0] == 127 || (a->addr[0] | a->addr[1] | a->addr[2] | a->addr[3]) == 0;
	/* ::, ::1, ::ffff:127.x.x.x, ::ffff:0.0.0.0 */
	__u8 any = 0;
	for (int i = 0; i < 10; i++)
		any |= a->addr[i];
	if (any)
		return false;
	if (a->addr[10] == 0 && a->addr[11] == 0) {
		return (a->addr[12] | a->addr[13] | a->addr[14]) == 0 && a->addr[15] <= 1;
	}
	if (a->addr[10] == 0xff && a->addr[11] == 0xff)
		return a->addr[12] == 127 || (a->addr[12] | a->addr[13] | a->addr[14] | a->addr[15]) == 0;
	return false;
}

static __always_inline __u32 setid_call_of(struct pt_regs *regs, __u32 cap);
static __always_inline struct setid_plan *setid_plan_of(struct task_struct *task, struct pt_regs *regs,
							__u32 cap, __u32 call);

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

/* A task's cgroup (v2) id: what bpf_get_current_cgroup_id() returns for the current task,
 * read with plain loads through BTF pointers instead of a helper call (20-40 ns less a
 * check on this VM; the program runs under RCU, which the css_set pointer needs). */
static __always_inline __u64 task_cgid(struct task_struct *t)
{
	return t->cgroups->dfl_cgrp->kn->id;
}

/* Whether the current task is one to watch: a user process other than the tracer.
 * `task` is a BTF pointer (bpf_get_current_task_btf): its fields are read directly, as
 * plain loads, not through a helper call. */
static __always_inline bool watched(struct task_struct *task)
{
	if (task->flags & PF_KTHREAD)
		return false;
	return task->tgid != self_tgid;
}

/* The header's common fields, with the cgroup id and process start time given; no paths.
 * A pointer read through a BTF pointer costs the verifier a search of the kernel's BTF at
 * every path that reaches it: where they are known already (a check's key), they are
 * passed, not read again (read again at each report, loading took twice as long). */
static __always_inline void fill_head(struct sp_event *e, struct task_struct *task, __u32 kind, __u64 cgid,
				      __u64 start)
{
	__u64 id = bpf_get_current_pid_tgid();
	e->kind = kind;
	e->tgid = id >> 32;
	e->tid = (__u32)id;
	const struct cred *cred = task->real_cred;
	e->uid = cred->uid.val;
	e->euid = cred->euid.val;
	e->ret = 0;
	e->cgid = cgid;
	e->time_ns = bpf_ktime_get_boot_ns();
	e->start_ns = start;
	e->cap = 0;
	e->flags = 0;
	e->value = 0;
	e->target_cgid = 0;
	e->target_pid = 0;
	e->sig = 0;
	e->family = 0;
	e->port = 0;
	e->dirfd = 0;
	e->path_len = 0;
	e->path2_len = 0;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
}

/* The header's common fields; no paths. */
static __always_inline void fill_common(struct sp_event *e, struct task_struct *task, __u32 kind)
{
	fill_head(e, task, kind, task_cgid(task), task->group_leader->start_boottime);
}

static __always_inline struct sp_record *scratch_record(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&scratch, &zero);
}

/* A string read's result as a length the verifier can bound: 0 on failure. */
static __always_inline __u32 read_len(long n)
{
	if (n <= 0)
		return 0;
	if (n > SP_PATH_CAP)
		return SP_PATH_CAP;
	return n;
}

/* How a record that is bookkeeping, not news (an exec, an exit), is submitted: without
 * waking the tracer, which drains the ring buffer now and then anyway, or at once when
 * the next record with news comes (records stay in order). Waking it for each one cost
 * 13-17 us per exec and per exit (the woken tracer preempts the process that submitted);
 * user space drains every 100 ms (DRAIN_MS in kernel/mod.rs).
 * A ring buffer filling up wakes it regardless. Records with news force the wakeup: the
 * kernel's own rule (wake only a reader that had caught up) would not wake a reader behind
 * such a lazy record, and a check would wait for the next drain. */
#define SP_WAKE_AT (256 * 1024)
static __always_inline __u64 lazy_wakeup(void)
{
	return bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) > SP_WAKE_AT ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
}

/* Copies the record's header and its path_len + path2_len bytes of paths into the ring
 * buffer, marking a path that filled its room as cut. */
static __always_inline bool send_record(struct sp_record *r, __u32 n1, __u32 n2, __u64 wakeup)
{
	if (n1 >= SP_PATH_CAP || n2 >= SP_PATH_CAP)
		r->e.flags |= SP_F_TRUNCATED;
	r->e.path_len = n1;
	r->e.path2_len = n2;
	__u64 size = sizeof(struct sp_event) + (__u64)n1 + n2;
	if (size > sizeof(*r))
		return false;
	if (bpf_ringbuf_output(&events, r, size, wakeup)) {
		count_lost();
		return false;
	}
	return true;
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

static __always_inline bool in_text(__u64 ip, const volatile struct sp_range *t)
{
	return ip >= t->start && ip < t->end;
}

static __always_inline struct stack_slots *stack_slots(__u32 set)
{
	return bpf_map_lookup_elem(&slots, &set);
}

static __always_inline void count_walk(__u32 which)
{
	__u64 *n = bpf_map_lookup_elem(&walks, &which);
	if (n)
		*n += 1;
}

/* How far apart the slots may be to be read at once, in words (a power of two). */
#define SP_NEAR_WORDS 8

/* The word `slot` words above ctx (0 when it cannot be read). */
static __always_inline __u64 stack_word(void *ctx, __u32 slot)
{
	__u64 w = 0;
	bpf_probe_read_kernel(&w, sizeof(w), (const void *)((__u64)ctx + (__u64)(slot & (SP_SLOT_WORDS - 1)) * 8));
	return w;
}

/* Whether the slots show a NOAUDIT caller of cap_capable, one or two frames up; false
 * when they do not (a walk decides) or do not apply (another tracer on the tracepoint
 * puts a frame in between: the return into cap_capable is not where it was learned). */
static __always_inline bool probe_by_slots(void *ctx, struct stack_slots *sl)
{
	/* The words usually lie within 8 of each other (10, 12 and 17 here): one read. */
	__u32 c1 = sl->c1 - sl->cc, c2 = sl->c2 - sl->cc;
	if (sl->c1 > sl->cc && c1 < SP_NEAR_WORDS && (!sl->has_c2 || (sl->c2 > sl->cc && c2 < SP_NEAR_WORDS))) {
		__u64 w[SP_NEAR_WORDS];
		if (bpf_probe_read_kernel(w, sizeof(w), (const void *)((__u64)ctx + (__u64)(sl->cc & (SP_SLOT_WORDS - 1)) * 8)))
			return false;
		if (!in_text(w[0], &cap_capable_text))
			return false;
		/* Masked where the verifier sees it (the compiler would drop a mask it can prove). */
		barrier_var(c1);
		barrier_var(c2);
		__u64 w1 = w[c1 & (SP_NEAR_WORDS - 1)];
		if (in_noaudit(w1))
			return true;
		if (!sl->has_c2 || !in_text(w1, &security_capable_text))
			return false;
		return in_noaudit(w[c2 & (SP_NEAR_WORDS - 1)]);
	}
	if (!in_text(stack_word(ctx, sl->cc), &cap_capable_text))
		return false;
	__u64 c1w = stack_word(ctx, sl->c1);
	if (in_noaudit(c1w))
		return true;
	if (!sl->has_c2 || !in_text(c1w, &security_capable_text))
		return false;
	return in_noaudit(stack_word(ctx, sl->c2));
}

/* After a walk, a sample for user space when it asked. */
static __always_inline void sample_slots(void *ctx, __u64 *frames, long n)
{
	__u32 zero = 0;
	__u32 *want = bpf_map_lookup_elem(&slot_want, &zero);
	if (!want || !*want)
		return;
	struct slot_sample *smp = bpf_map_lookup_elem(&slot_sample, &zero);
	if (!smp)
		return;
	for (int i = 0; i < SP_STACK_DEPTH; i++)
		smp->frames[i] = frames[i];
	smp->n = n;
	if (bpf_probe_read_kernel(smp->words, sizeof(smp->words), ctx) == 0)
		*want = 0;
}

/* After a walk, a check of a set against it: where the return into cap_capable is where
 * the set says, the callers' must be too, or the set is switched off for good.
 * frames[f] is the return into cap_capable, frames[f + 1] into its caller, frames[f + 2]
 * into the caller's caller. */
static __always_inline void check_slots(void *ctx, struct stack_slots *sl, __u64 *frames, long n, int f)
{
	if (sl->state != SLOTS_READY)
		return;
	if (stack_word(ctx, sl->cc) != frames[f & 7])
		return; /* the other layout */
	if (stack_word(ctx, sl->c1) != frames[(f + 1) & 7]) {
		sl->state = SLOTS_OFF;
		return;
	}
	if (sl->has_c2 && in_text(frames[(f + 1) & 7], &security_capable_text) && (f + 3) * 8 <= n &&
	    stack_word(ctx, sl->c2) != frames[(f + 2) & 7])
		sl->state = SLOTS_OFF;
}

/* The frame of a walk that returns into cap_capable, with two above it; -1 if none. */
static __always_inline int cap_capable_frame(__u64 *frames, long n)
{
	for (int i = 0; i < SP_STACK_DEPTH - 2; i++) {
		if ((i + 2) * 8 > n)
			break;
		if (in_text(frames[i], &cap_capable_text))
			return i;
	}
	return -1;
}

/* A full walk of SP_STACK_DEPTH frames: whether one lies in a NOAUDIT caller's text.
 * Samples or checks the slots on the way. A function of its own (verified once, not at
 * every inlined report): it only runs for checks the slots cannot tell, and the walk
 * costs far more than the call. */
__noinline int walk_is_probe(void *ctx __arg_ctx)
{
	__u64 stack[SP_STACK_DEPTH];
	long n = bpf_get_stack(ctx, stack, sizeof(stack), 0);
	if (n <= 0)
		return 0;
	int probe = 0;
	for (int i = 0; i < SP_STACK_DEPTH; i++) {
		if (i * 8 >= n)
			break;
		if (in_noaudit(stack[i])) {
			probe = 1;
			break;
		}
	}
	sample_slots(ctx, stack, n);
	int f = cap_capable_frame(stack, n);
	if (f >= 0) {
		for (__u32 set = 0; set < SP_SLOT_SETS; set++) {
			struct stack_slots *sl = stack_slots(set);
			if (sl)
				check_slots(ctx, sl, stack, n, f);
		}
	}
	return probe;
}

/* Whether the check being made is a NOAUDIT probe: one of its first frames lies in a
 * NOAUDIT caller's text. The slots answer "probe" for a direct or second-level caller
 * without a walk; anything else walks. */
static __always_inline bool is_probe(void *ctx)
{
	for (__u32 set = 0; set < SP_SLOT_SETS; set++) {
		struct stack_slots *sl = stack_slots(set);
		if (sl && sl->state == SLOTS_READY && probe_by_slots(ctx, sl)) {
			count_walk(0);
			return true;
		}
	}
	count_walk(1);
	return walk_is_probe(ctx);
}

/* The key of a check by the current process (`task`, in cgroup `cgid`, started at `start`)
 * of `cap` with credentials of `euid`. The program reads `cgid` and `start` before it
 * branches to report: the verifier then checks their reads once, not on every path. */
static __always_inline void check_key(struct seen_key *k, struct task_struct *task, __u64 cgid, __u64 start,
				      __u32 cap, __u32 euid, bool denied)
{
	k->tgid = task->tgid;
	k->cap = cap;
	k->cgid = cgid;
	k->start = start;
	k->bits = (euid == 0 ? SP_F_ROOT : 0) | ((__u32)denied << 8);
}

/* One capability check to report. */
struct check {
	struct seen_key key;
	__s32 ret;
};

/* Marks `key` reported with `bit`. */
static __always_inline void remember(struct seen_key *key, __u32 bit)
{
	bpf_map_update_elem(&seen, key, &bit, BPF_ANY);
}

/* This CPU's cache (NULL when it cannot be had: then `seen` answers alone). */
static __always_inline struct ccache *cpu_cache(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&ccache, &zero);
}

/* How the CPU's cache holds `key`: 1 reported as a real use, 2 as a probe, 0 not. */
static __always_inline __u32 cached(struct ccache *cc, struct seen_key *key)
{
	if (!cc)
		return 0;
	__u32 how = 0;
	for (int i = 0; i < SP_CCACHE; i++) {
		struct ccache_ent *c = &cc->ent[i];
		if (c->tgid == key->tgid && c->cap == key->cap && c->bits == key->bits &&
		    c->value == key->value && c->start == key->start && c->cgid == key->cgid)
			how |= c->how;
	}
	return how;
}

static __always_inline void cache(struct ccache *cc, struct seen_key *key, __u32 how)
{
	if (!cc)
		return;
	struct ccache_ent *c = &cc->ent[cc->next & (SP_CCACHE - 1)];
	cc->next += 1;
	c->start = key->start;
	c->cgid = key->cgid;
	c->value = key->value;
	c->tgid = key->tgid;
	c->cap = key->cap;
	c->bits = key->bits;
	c->how = how;
}

/* Whether `seen` has `key` reported as a real use by its process (then cached). */
static __always_inline bool reported_real(struct ccache *cc, struct seen_key *key)
{
	__u32 *state = bpf_map_lookup_elem(&seen, key);
	if (!state || !(*state & 1))
		return false;
	cache(cc, key, 1);
	return true;
}

/* Sends one capability check unless it was reported already (`repeat` aside): a real use
 * once per process and key, a probe once per cgroup and key (a probe is never a need, so
 * one line per type says all there is; and a process's first probes cost nothing more).
 * With `repeat`, a check already reported is sent again, but as bookkeeping, not news: it
 * does not wake the tracer (lazy_wakeup), so a loop of repeated checks is drained in bulk
 * every few milliseconds instead of waking four threads per check; a first one still
 * wakes it at once. `seccomp`: a check made up from a call a seccomp filter refused, in
 * the call's exit program (no kernel stack to look at); a constant at each call site, so
 * the verifier follows only the code of its kind (a flag read from the check's memory was
 * followed both ways, and made cap_capable's verification 60% longer). */
static __always_inline int report(void *ctx, struct check *ck, const bool seccomp)
{
	struct ccache *cc = NULL;
	__u32 how = 0;
	if (!repeat) {
		/* Only cap_capable uses the cache (see ccache): a seccomp-made check asks `seen`. */
		if (!seccomp)
			cc = cpu_cache();
		how = cached(cc, &ck->key);
		if (how & 1)
			return 0;
		/* A key known here as a probe asks `seen` only when this check is no probe. */
		if (!how && reported_real(cc, &ck->key))
			return 0;
	}
	bool probe = !seccomp && is_probe(ctx);
	struct seen_key pkey = ck->key;
	if (!repeat) {
		if (probe) {
			if (how & 2)
				return 0;
			pkey.tgid = 0;
			pkey.start = 0;
			__u32 *state = bpf_map_lookup_elem(&seen, &pkey);
			if (state && (*state & 2)) {
				cache(cc, &ck->key, 2);
				return 0;
			}
		} else if ((how & 2) && reported_real(cc, &ck->key)) {
			return 0;
		}
	}

	struct sp_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count_lost();
		return 0;
	}
	/* The checked credentials are the task's own (borrowed ones are dropped): its ids. */
	fill_head(e, bpf_get_current_task_btf(), SP_CAP, ck->key.cgid, ck->key.start);
	e->cap = ck->key.cap;
	e->ret = ck->ret;
	e->value = ck->key.value;
	e->flags = (ck->key.bits & (SP_F_ROOT | SP_F_HAS_VALUE)) | (probe ? SP_F_PROBE : 0) |
		   (seccomp ? SP_F_SECCOMP : 0);
	/* Looked up only here, after the probe test, so the verifier does not follow both
	 * answers through it (that made loading with `repeat` take seconds longer). */
	__u64 wake = BPF_RB_FORCE_WAKEUP;
	if (repeat) {
		if (bpf_map_lookup_elem(&seen, &ck->key))
			wake = lazy_wakeup();
		else
			remember(&ck->key, 1);
	}
	bpf_ringbuf_submit(e, wake);

	if (!repeat) {
		if (probe)
			remember(&pkey, 2);
		else
			remember(&ck->key, 1);
		cache(cc, &ck->key, probe ? 2 : 1);
	}
	return 0;
}

/* Reports `ck` once for each id of the call that check number `k` is about (every id when
 * k < 0), or once without a value when the ids are not known. */
static __always_inline void report_ids(void *ctx, struct check *ck, struct setid_plan *plan, int k,
				       const bool seccomp)
{
	bool any = false;
	if (plan->mode == IDS_KNOWN) {
		for (__u32 i = 0; i < SP_MAX_IDS; i++) {
			if (i >= plan->n)
				break;
			if (k >= 0 && plan->check_of[i] != k)
				continue;
			ck->key.value = plan->ids[i];
			ck->key.bits |= SP_F_HAS_VALUE;
			report(ctx, ck, seccomp);
			any = true;
		}
	}
	if (!any) {
		ck->key.value = 0;
		ck->key.bits &= ~SP_F_HAS_VALUE;
		report(ctx, ck, seccomp);
	}
}

SEC("tp_btf/cap_capable")
int BPF_PROG(cap_capable, const struct cred *cred, struct user_namespace *targ_ns,
	     const struct user_namespace *ns, int cap, int ret)
{
	struct task_struct *task = bpf_get_current_task_btf();
	if (!watched(task))
		return 0;
	/* Borrowed credentials (overlayfs, access(2), another task's): not this process's need. */
	if (cred != task->real_cred)
		return 0;

	/* The set*id call a CAP_SETUID/CAP_SETGID check is made in, if any. */
	struct pt_regs *regs = NULL;
	__u32 call = 0;
	if (cap == CAP_SETUID || cap == CAP_SETGID) {
		regs = syscall_regs(task);
		call = regs ? setid_call_of(regs, cap) : 0;
		/* Dropping every supplementary group gains none: only a refusal is news. */
		if (call == ID_GROUPS && (__u32)regs->di == 0 && ret == 0)
			return 0;
	}

	/* Read after the early return above (the cheapest check, a loop's), before the rest. */
	__u64 cgid = task_cgid(task), start = task->group_leader->start_boottime;
	struct check ck = {};
	check_key(&ck.key, task, cgid, start, cap, cred->euid.val, ret != 0);
	ck.ret = ret;
	if (cap == CAP_NET_BIND_SERVICE) {
		/* In bind(2): the port of the address it binds (the kernel has just copied it). */
		struct pt_regs *r = syscall_regs(task);
		struct net_addr a = {};
		__u32 family = r && syscall_nr(r) == NR_BIND ? read_sockaddr(&a, r->si, r->dx) : 0;
		if (family == AF_INET || family == AF_INET6) {
			ck.key.value = a.port;
			ck.key.bits |= SP_F_HAS_VALUE;
		}
	} else if (call) {
		__u32 tid = (__u32)bpf_get_current_pid_tgid();
		if (task->seccomp.mode == SECCOMP_MODE_FILTER) {
			__u8 one = 1;
			bpf_map_update_elem(&setid_checked, &tid, &one, BPF_ANY);
		}
		struct setid_plan *plan = setid_plan_of(task, regs, cap, call);
		if (call == ID_SETRE && plan) {
			/* Its first check notes which check is about which id; its exit forgets. (The
			 * plan is built at every check and replaced by the noted one: built only when
			 * nothing is noted, the two sources of the plan made the verifier give up.) */
			struct setid_plan *noted = bpf_map_lookup_elem(&setid, &tid);
			if (!noted || noted->cap != cap) {
				bpf_map_update_elem(&setid, &tid, plan, BPF_ANY);
				noted = bpf_map_lookup_elem(&setid, &tid);
			}
			if (noted)
				plan = noted;
		}
		if (plan) {
			int k = plan->checks;
			plan->checks = k + 1;
			report_ids(ctx, &ck, plan, k, false);
			return 0;
		}
	}
	report(ctx, &ck, false);
	return 0;
}

/* The sun_path of an AF_UNIX address into data: at most addrlen - 2 bytes (it need not
 * end in a NUL) and its NUL. Returns the bytes written, NUL included. */
static __always_inline __u32 read_unix_path(char *data, __u64 uaddr, __u32 addrlen)
{
	__u32 room = addrlen > 2 ? addrlen - 2 : 0;
	if (room > UNIX_PATH_MAX)
		room = UNIX_PATH_MAX;
	barrier_var(room);
	return read_len(bpf_probe_read_user_str(data, (room & 0x7f) + 1, (const void *)(uaddr + 2)));
}

/* The key of a connection to another host made by the current process (see remote_seen). */
static __always_inline void remote_key_of(struct remote_key *rk, struct task_struct *task, struct net_addr *a,
					  __s64 ret)
{
	rk->tgid = task->tgid;
	rk->start = task->group_leader->start_boottime;
	rk->exec_id = task->group_leader->self_exec_id;
	rk->a = *a;
	/* connect_verdict in convert.rs: these three are "allowed". */
	rk->ret = (ret == -EINPROGRESS || ret == -EALREADY || ret == -EISCONN) ? 0 : (__s32)ret;
}

/* A path syscall's exit, where everything is read: the call's arguments are still in the
 * thread's saved user registers (the kernel has read them, and its paths, itself just
 * now), so there is no entry program, nothing kept between entry and exit, and no cost at
 * the entry of any syscall. The record goes out with the call's result and its paths; a
 * path that cannot be read (rare: the kernel has just read it) is counted as lost when the
 * call succeeded. `kind`: SP_BIND, SP_CONNECT, SP_MOUNT or SP_SYMLINK (`at`: symlinkat). */
static __always_inline int path_exit(struct sys_exit_ctx *ctx, __u32 kind, bool at)
{
	struct task_struct *task = bpf_get_current_task_btf();
	if (!watched(task))
		return 0;
	struct pt_regs *regs = syscall_regs(task);
	if (!regs)
		return 0;
	__u64 path = 0, path2 = 0;
	__s32 dirfd = AT_FDCWD;
	struct net_addr a = {};
	if (kind == SP_BIND || kind == SP_CONNECT) {
		__u32 family = read_sockaddr(&a, regs->si, regs->dx);
		if (family == AF_INET || family == AF_INET6) {
			/* An internet bind is only news as its check's port (cap_capable). */
			if (kind == SP_BIND || is_local(&a))
				return 0;
			kind = SP_REMOTE;
		} else if (family != AF_UNIX) {
			return 0;
		}
	} else if (kind == SP_MOUNT) {
		path = regs->si; /* the target */
	} else if (at) {
		path = regs->dx; /* symlinkat(target, newdirfd, linkpath) */
		dirfd = (__s32)regs->si;
		path2 = regs->di;
	} else {
		path = regs->si; /* symlink(target, linkpath) */
		path2 = regs->di;
	}
	struct remote_key rk = {};
	if (kind == SP_REMOTE && !repeat) {
		remote_key_of(&rk, task, &a, ctx->ret);
		if (bpf_map_lookup_elem(&remote_seen, &rk))
			return 0;
	}
	struct sp_record *r = scratch_record();
	if (!r)
		return 0;
	fill_common(&r->e, task, kind);
	r->e.ret = ctx->ret;
	r->e.dirfd = dirfd;
	r->e.family = a.family;
	r->e.port = a.port;
	__builtin_memcpy(r->e.addr, a.addr, sizeof(r->e.addr));
	__u32 n1 = 0, n2 = 0;
	if (kind == SP_BIND || kind == SP_CONNECT)
		n1 = read_unix_path(r->data, regs->si, regs->dx);
	else if (path)
		n1 = read_len(bpf_probe_read_user_str(r->data, SP_PATH_CAP, (const void *)path));
	if (n1 == 0 && kind != SP_REMOTE) {
		if (ctx->ret == 0)
			count_lost();
		return 0;
	}
	if (path2)
		n2 = read_len(bpf_probe_read_user_str(r->data + n1, SP_PATH_CAP, (const void *)path2));
	if (send_record(r, n1, n2, BPF_RB_FORCE_WAKEUP) && kind == SP_REMOTE && !repeat) {
		__u8 one = 1;
		bpf_map_update_elem(&remote_seen, &rk, &one, BPF_ANY);
	}
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_bind")
int exit_bind(struct sys_exit_ctx *ctx)
{
	return path_exit(ctx, SP_BIND, false);
}

SEC("tracepoint/syscalls/sys_exit_connect")
int exit_connect(struct sys_exit_ctx *ctx)
{
	return path_exit(ctx, SP_CONNECT, false);
}

SEC("tracepoint/syscalls/sys_exit_mount")
int exit_mount(struct sys_exit_ctx *ctx)
{
	return path_exit(ctx, SP_MOUNT, false);
}

SEC("tracepoint/syscalls/sys_exit_symlink")
int exit_symlink(struct sys_exit_ctx *ctx)
{
	return path_exit(ctx, SP_SYMLINK, false);
}

SEC("tracepoint/syscalls/sys_exit_symlinkat")
int exit_symlinkat(struct sys_exit_ctx *ctx)
{
	return path_exit(ctx, SP_SYMLINK, true);
}

/* The ids a process has now, of the family a check is about. */
struct cur_ids {
	__u32 real, eff, saved, fs;
};

static __always_inline void current_ids(struct task_struct *task, __u32 cap, struct cur_ids *o)
{
	const struct cred *c = task->real_cred;
	if (cap == CAP_SETUID) {
		o->real = c->uid.val;
		o->eff = c->euid.val;
		o->saved = c->suid.val;
		o->fs = c->fsuid.val;
	} else {
		o->real = c->gid.val;
		o->eff = c->egid.val;
		o->saved = c->sgid.val;
		o->fs = c->fsgid.val;
	}
}

/* Notes that check number `check` of the call is about `id` (-1: unchanged, nothing). */
static __always_inline void add_id(struct setid_plan *plan, __u32 id, __u8 check)
{
	if (id == NO_ID)
		return;
	__u32 n = plan->n;
	for (__u32 i = 0; i < SP_MAX_IDS; i++) {
		if (i >= n)
			break;
		if (plan->ids[i] == id && plan->check_of[i] == check)
			return;
	}
	if (n >= SP_MAX_IDS)
		return;
	plan->ids[n] = id;
	plan->check_of[n] = check;
	plan->n = n + 1;
}

/* Whether `id` is one the process does not hold as real, effective or saved id. */
static __always_inline bool is_new(__u32 id, struct cur_ids *o)
{
	return id != NO_ID && id != o->real && id != o->eff && id != o->saved;
}

/* setgroups(size, list): an empty list gains no group; any other needs the unranged
 * ability. Its gids are not a subrange: the launcher's seccomp filter cannot read a list
 * passed by pointer, so it refuses every list to a type whose setgid is ranged, and a
 * policy holding the list's gids would refuse the very call it was learned from (nginx's
 * initgroups). */
static __always_inline void plan_groups(struct setid_plan *plan, __u64 size)
{
	plan->mode = (__u32)size == 0 ? IDS_NONE : IDS_UNKNOWN;
}

/* Which ids the checks of a call are about, from the kernel's rules (kernel/sys.c,
 * kernel/groups.c), given the ids the process holds now:
 * - setuid(x), setgid(x): one check, always made: x.
 * - setreuid(r, e), setregid: r is checked when it is neither the real nor the effective
 *   id, then e when it is none of real, effective, saved: one check each, in that order.
 * - setresuid(r, e, s), setresgid: one check for the ids that are none of real,
 *   effective, saved: all of those.
 * - setfsuid(x), setfsgid: one check when x is none of real, effective, saved, fs: x.
 * - setgroups(n, list): one check, reported unranged (an empty list gains none).
 * -1 means "unchanged" and is never an id. */
static __always_inline void plan_setid(struct setid_plan *plan, struct task_struct *task, __u32 cap,
				       __u32 call, __u64 a0, __u64 a1, __u64 a2)
{
	plan->cap = cap;
	plan->n = 0;
	plan->checks = 0;
	plan->mode = IDS_KNOWN;
	struct cur_ids o = {};
	current_ids(task, cap, &o);
	__u32 x = a0, y = a1, z = a2;
	switch (call) {
	case ID_SET:
		add_id(plan, x, 0);
		break;
	case ID_SETRE: {
		__u8 k = 0;
		if (x != NO_ID && x != o.real && x != o.eff) {
			add_id(plan, x, 0);
			k = 1;
		}
		if (is_new(y, &o))
			add_id(plan, y, k);
		break;
	}
	case ID_SETRES:
		if (is_new(x, &o))
			add_id(plan, x, 0);
		if (is_new(y, &o))
			add_id(plan, y, 0);
		if (is_new(z, &o))
			add_id(plan, z, 0);
		break;
	case ID_SETFS:
		if (is_new(x, &o) && x != o.fs)
			add_id(plan, x, 0);
		break;
	case ID_GROUPS:
		plan_groups(plan, a0);
		break;
	}
}

/* Which set*id call, of a check's family, the thread is in (0: none), from its saved
 * user registers (syscall_regs: a 64-bit call). */
static __always_inline __u32 setid_call_of(struct pt_regs *regs, __u32 cap)
{
	__u64 nr = syscall_nr(regs);
	if (cap == CAP_SETUID) {
		switch (nr) {
		case 105: return ID_SET;   /* setuid */
		case 113: return ID_SETRE; /* setreuid */
		case 117: return ID_SETRES; /* setresuid */
		case 122: return ID_SETFS; /* setfsuid */
		}
	} else {
		switch (nr) {
		case 106: return ID_SET;    /* setgid */
		case 114: return ID_SETRE;  /* setregid */
		case 119: return ID_SETRES; /* setresgid */
		case 123: return ID_SETFS;  /* setfsgid */
		case 116: return ID_GROUPS; /* setgroups */
		}
	}
	return 0;
}

/* The plan of set*id call `call` the thread is in, from its saved user registers (`regs`,
 * a BTF pointer: its fields are plain loads), built in the per-CPU scratch. */
static __always_inline struct setid_plan *setid_plan_of(struct task_struct *task, struct pt_regs *regs,
							__u32 cap, __u32 call)
{
	__u32 zero = 0;
	struct setid_plan *plan = bpf_map_lookup_elem(&setid_scratch, &zero);
	if (!plan)
		return NULL;
	plan_setid(plan, task, cap, call, regs->di, regs->si, regs->dx);
	return plan;
}

/* A call refused with EPERM although the kernel checked nothing, by a process under a
 * seccomp filter: the filter refused it (the ids come from the syscall's registers). Reported as the failed check of the ids it asked for
 * (a group list: without a value). */
static __always_inline void refused_by_seccomp(struct sys_exit_ctx *ctx, __u32 cap, __u32 call,
					       struct setid_plan *plan)
{
	struct task_struct *task = bpf_get_current_task_btf();
	if (!watched(task))
		return;
	if (task->seccomp.mode != SECCOMP_MODE_FILTER)
		return;
	__u64 cgid = task_cgid(task), start = task->group_leader->start_boottime;
	if (!plan) {
		struct pt_regs *regs = syscall_regs(task);
		plan = regs ? setid_plan_of(task, regs, cap, call) : NULL;
		if (!plan)
			return;
	}
	/* A filter cannot read a group list (it is behind a pointer): what it refused is
	 * setgroups with any list, which only the unranged ability would allow. */
	if (call == ID_GROUPS && plan->mode == IDS_KNOWN)
		plan->mode = IDS_UNKNOWN;
	struct check ck = {};
	check_key(&ck.key, task, cgid, start, cap, task->real_cred->euid.val, true);
	ck.ret = -EPERM;
	report_ids(ctx, &ck, plan, -1, true);
}

/* A set*id call's exit: a refusal by a seccomp filter is reported, and what its checks
 * noted is forgotten. A thread under no filter has nothing noted but by the first check
 * of setreuid/setregid. */
static __always_inline int exit_setid(struct sys_exit_ctx *ctx, __u32 cap, __u32 call)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct setid_plan *plan = NULL;
	if (call == ID_SETRE)
		plan = bpf_map_lookup_elem(&setid, &tid);
	struct task_struct *task = bpf_get_current_task_btf();
	if (task->seccomp.mode == SECCOMP_MODE_FILTER) {
		bool checked = bpf_map_lookup_elem(&setid_checked, &tid) != NULL;
		if (checked)
			bpf_map_delete_elem(&setid_checked, &tid);
		if (ctx->ret == -EPERM && !checked && !(plan && plan->checks > 0))
			refused_by_seccomp(ctx, cap, call, plan);
	}
	if (plan)
		bpf_map_delete_elem(&setid, &tid);
	return 0;
}

#define SETID_EXIT(name, cap, call)                                      \
	SEC("tracepoint/syscalls/sys_exit_" #name)                       \
	int exit_##name(struct sys_exit_ctx *ctx)                        \
	{                                                                \
		return exit_setid(ctx, cap, call);                       \
	}

SETID_EXIT(setuid, CAP_SETUID, ID_SET)
SETID_EXIT(setreuid, CAP_SETUID, ID_SETRE)
SETID_EXIT(setresuid, CAP_SETUID, ID_SETRES)
SETID_EXIT(setfsuid, CAP_SETUID, ID_SETFS)
SETID_EXIT(setgid, CAP_SETGID, ID_SET)
SETID_EXIT(setregid, CAP_SETGID, ID_SETRE)
SETID_EXIT(setresgid, CAP_SETGID, ID_SETRES)
SETID_EXIT(setfsgid, CAP_SETGID, ID_SETFS)
SETID_EXIT(setgroups, CAP_SETGID, ID_GROUPS)

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
	if (target->flags & PF_KTHREAD)
		return 0;
	__u64 tcg = task_cgid(target);
	__u64 cg = task_cgid(task);
	if (tcg == cg)
		return 0;
	struct sp_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count_lost();
		return 0;
	}
	fill_head(e, task, SP_SIGNAL, cg, task->group_leader->start_boottime);
	e->target_pid = target->tgid;
	e->target_cgid = tcg;
	e->sig = sig;
	e->ret = result;
	bpf_ringbuf_submit(e, BPF_RB_FORCE_WAKEUP);
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(sched_process_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	struct task_struct *task = bpf_get_current_task_btf();
	if (!watched(task))
		return 0;
	struct sp_record *r = scratch_record();
	if (!r)
		return 0;
	fill_common(&r->e, task, SP_EXEC);
	const char *filename = bprm->filename;
	__u32 n1 = read_len(bpf_probe_read_kernel_str(r->data, SP_PATH_CAP, filename));
	send_record(r, n1, 0, lazy_wakeup());
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
	e->ret = p->exit_code;
	bpf_ringbuf_submit(e, lazy_wakeup());
	return 0;
}
