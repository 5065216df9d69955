/* Records the kernel side of secpoltrace hands to user space through the ring buffer.
 *
 * The layout is mirrored by `services/tracer/src/kernel/record.rs` (#[repr(C)]); change
 * both together. Every field is naturally aligned and the struct has no implicit padding.
 */
#ifndef SECPOL_EVENTS_H
#define SECPOL_EVENTS_H

#define SP_PATH_MAX 512

enum sp_kind {
	SP_CAP = 1,     /* capability check: cap, ret, flags, value */
	SP_BIND = 2,    /* AF_UNIX bind to a path: path, ret */
	SP_MOUNT = 3,   /* mount(2): path = target, ret */
	SP_SYMLINK = 4, /* symlink/symlinkat: path = link, path2 = target, dirfd, ret */
	SP_CONNECT = 5, /* AF_UNIX connect to a path: path, ret */
	SP_REMOTE = 6,  /* AF_INET/AF_INET6 connect to a non-loopback address: family, port, addr, ret */
	SP_SIGNAL = 7,  /* user signal to a process in another cgroup: target_pid, target_cgid, sig */
	SP_EXEC = 8,    /* exec: path = filename as given to execve */
	SP_EXIT = 9,    /* exit of a thread group leader: ret = wait status */
	SP_INET_BIND = 10, /* internal: AF_INET/AF_INET6 bind, only carries the port to SP_CAP */
};

/* flags of SP_CAP */
#define SP_F_PROBE 1u     /* NOAUDIT probe (memory accounting, ptrace probe, ...) */
#define SP_F_ROOT 2u      /* checked credentials have euid 0 */
#define SP_F_HAS_VALUE 4u /* value holds the checked value (port) */

struct sp_event {
	__u32 kind;
	__u32 tgid;
	__u32 tid;
	__u32 uid;
	__u32 euid;
	__s32 ret;
	__u64 cgid;
	__u64 time_ns;  /* CLOCK_BOOTTIME */
	__u64 start_ns; /* thread group leader's start, CLOCK_BOOTTIME */
	__u32 cap;
	__u32 flags;
	__u64 value;
	__u64 target_cgid;
	__u32 target_pid;
	__s32 sig;
	__u32 family;
	__u32 port;
	__s32 dirfd;
	__u32 pad;
	__u8 addr[16];
	char comm[16];
	char path[SP_PATH_MAX];
	char path2[SP_PATH_MAX];
};

/* record.rs reads the fields at these offsets. */
_Static_assert(sizeof(struct sp_event) == 1152, "sp_event layout changed: update record.rs");
_Static_assert(__builtin_offsetof(struct sp_event, addr) == 96, "sp_event layout changed: update record.rs");
_Static_assert(__builtin_offsetof(struct sp_event, path) == 128, "sp_event layout changed: update record.rs");

/* A [start, end) range of kernel text whose calls to cap_capable are NOAUDIT probes. */
struct sp_range {
	__u64 start;
	__u64 end;
};

#define SP_MAX_RANGES 16
#define SP_STACK_DEPTH 8

#endif
