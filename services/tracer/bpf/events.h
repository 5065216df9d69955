/* Records the kernel side of secpoltrace hands to user space through the ring buffer.
 *
 * A record is a fixed header (`struct sp_event`) followed by its paths, each with its NUL:
 * `path` (path_len bytes) then `path2` (path2_len bytes). Records without paths (capability
 * checks, signals, exits) are the header alone; the ring buffer holds only the bytes used.
 *
 * The layout is mirrored by `services/tracer/src/kernel/record.rs`; change both together.
 * Every field is naturally aligned and the header has no implicit padding.
 */
#ifndef SECPOL_EVENTS_H
#define SECPOL_EVENTS_H

/* Room for one path with its NUL. The kernel refuses paths of PATH_MAX (4096) bytes or
 * more (ENAMETOOLONG), so every path it accepts fits; a read that fills the room was cut
 * and is marked SP_F_TRUNCATED. */
#define SP_PATH_CAP 4104

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
};

/* flags */
#define SP_F_PROBE 1u     /* SP_CAP: NOAUDIT probe (memory accounting, ptrace probe, ...) */
#define SP_F_ROOT 2u      /* SP_CAP: checked credentials have euid 0 */
#define SP_F_HAS_VALUE 4u /* SP_CAP: value holds the checked value (port, uid, gid) */
#define SP_F_TRUNCATED 8u /* a path filled its room: it was cut */
#define SP_F_SECCOMP 16u  /* SP_CAP: not a kernel check: a seccomp filter refused the call */

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
	__u16 path_len;  /* bytes of path after the header, NUL included; 0: none */
	__u16 path2_len; /* bytes of path2 after path, NUL included; 0: none */
	__u8 addr[16];
	char comm[16];
};

/* A record being built: the header and room for both paths. */
struct sp_record {
	struct sp_event e;
	char data[2 * SP_PATH_CAP];
};

/* record.rs reads the fields at these offsets. */
_Static_assert(sizeof(struct sp_event) == 128, "sp_event layout changed: update record.rs");
_Static_assert(__builtin_offsetof(struct sp_event, path_len) == 92, "sp_event layout changed: update record.rs");
_Static_assert(__builtin_offsetof(struct sp_event, addr) == 96, "sp_event layout changed: update record.rs");
_Static_assert(SP_PATH_CAP < 65536, "path lengths are 16 bits");

/* A [start, end) range of kernel text whose calls to cap_capable are NOAUDIT probes. */
struct sp_range {
	__u64 start;
	__u64 end;
};

#define SP_MAX_RANGES 16
#define SP_STACK_DEPTH 8

/* Words of kernel stack above the tracepoint's arguments sampled to find the slots. */
#define SP_SLOT_WORDS 64

/* One stack walk and the stack above ctx, for user space to find the slots in. */
struct slot_sample {
	__u64 frames[SP_STACK_DEPTH];
	__s64 n; /* bytes of frames filled */
	__u64 words[SP_SLOT_WORDS];
};

/* The ids of one set*id call or setgroups list the tracer attaches to its checks. */
#define SP_MAX_IDS 16

#endif
