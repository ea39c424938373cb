/* probe: the conformance suite's in-container observer.
 *
 * Built by the suite at run time (gcc -static) and copied into each bundle's
 * rootfs as /bin/probe.  Each sub-command reports one kernel fact about the
 * calling process on stdout, in "key=value" words, so the suite can compare it
 * with what config.json asked for.  It is run as the container process itself
 * (not through a shell) where an exec would change the fact: capabilities are
 * recomputed by execve(2), so a shell in between would hide what the runtime set.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>
#include <linux/capability.h>

#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_IS_SET 1
#endif

static int caps(void)
{
    struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
    struct __user_cap_data_struct data[2];
    unsigned long long bnd = 0, amb = 0;
    int i;

    if (syscall(SYS_capget, &hdr, data) < 0) {
        printf("error=capget errno=%d\n", errno);
        return 1;
    }
    for (i = 0; i < 64; i++) {
        int r = prctl(PR_CAPBSET_READ, i, 0, 0, 0);
        if (r < 0)
            break;
        if (r)
            bnd |= 1ULL << i;
        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, i, 0, 0) == 1)
            amb |= 1ULL << i;
    }
    printf("inh=%llx prm=%llx eff=%llx bnd=%llx amb=%llx\n",
           (unsigned long long)data[1].inheritable << 32 | data[0].inheritable,
           (unsigned long long)data[1].permitted << 32 | data[0].permitted,
           (unsigned long long)data[1].effective << 32 | data[0].effective,
           bnd, amb);
    return 0;
}

static int ids(void)
{
    gid_t groups[256];
    int n = getgroups(256, groups), i;

    printf("uid=%u gid=%u euid=%u egid=%u groups=", getuid(), getgid(), geteuid(), getegid());
    for (i = 0; i < n; i++)
        printf(i ? ",%u" : "%u", groups[i]);
    printf("\n");
    return 0;
}

static const struct { const char *name; int res; } limits[] = {
    { "RLIMIT_AS", RLIMIT_AS }, { "RLIMIT_CORE", RLIMIT_CORE }, { "RLIMIT_CPU", RLIMIT_CPU },
    { "RLIMIT_DATA", RLIMIT_DATA }, { "RLIMIT_FSIZE", RLIMIT_FSIZE },
    { "RLIMIT_LOCKS", RLIMIT_LOCKS }, { "RLIMIT_MEMLOCK", RLIMIT_MEMLOCK },
    { "RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE }, { "RLIMIT_NICE", RLIMIT_NICE },
    { "RLIMIT_NOFILE", RLIMIT_NOFILE }, { "RLIMIT_NPROC", RLIMIT_NPROC },
    { "RLIMIT_RSS", RLIMIT_RSS }, { "RLIMIT_RTPRIO", RLIMIT_RTPRIO },
    { "RLIMIT_RTTIME", RLIMIT_RTTIME }, { "RLIMIT_SIGPENDING", RLIMIT_SIGPENDING },
    { "RLIMIT_STACK", RLIMIT_STACK },
};

static int rlimits(void)
{
    unsigned i;

    for (i = 0; i < sizeof(limits) / sizeof(limits[0]); i++) {
        struct rlimit rl;
        if (getrlimit(limits[i].res, &rl) == 0)
            printf("%s=%llu:%llu\n", limits[i].name,
                   (unsigned long long)rl.rlim_cur, (unsigned long long)rl.rlim_max);
    }
    return 0;
}

static int sched(void)
{
    struct sched_param sp;
    cpu_set_t set;
    int i, first = 1;

    sched_getparam(0, &sp);
    printf("policy=%d priority=%d nice=%d", sched_getscheduler(0) & ~SCHED_RESET_ON_FORK,
           sp.sched_priority, getpriority(PRIO_PROCESS, 0));
    /* ioprio_get(IOPRIO_WHO_PROCESS, 0): class in bits 13-15, level below. */
    i = syscall(SYS_ioprio_get, 1, 0);
    printf(" ioclass=%d iolevel=%d cpus=", i >> 13, i & 0xff);
    if (sched_getaffinity(0, sizeof(set), &set) == 0)
        for (i = 0; i < CPU_SETSIZE; i++)
            if (CPU_ISSET(i, &set)) {
                printf(first ? "%d" : ",%d", i);
                first = 0;
            }
    printf("\n");
    return 0;
}

static int fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int first = 1;

    if (!d) {
        printf("error=opendir errno=%d\n", errno);
        return 1;
    }
    printf("fds=");
    while ((e = readdir(d)))
        if (e->d_name[0] != '.' && atoi(e->d_name) != dirfd(d)) {
            printf(first ? "%s" : ",%s", e->d_name);
            first = 0;
        }
    printf("\n");
    closedir(d);
    return 0;
}

static int statpath(const char *path)
{
    struct stat st;
    const char *t;

    if (lstat(path, &st) < 0) {
        printf("errno=%d\n", errno);
        return 1;
    }
    t = S_ISCHR(st.st_mode) ? "c" : S_ISBLK(st.st_mode) ? "b" : S_ISDIR(st.st_mode) ? "d" :
        S_ISLNK(st.st_mode) ? "l" : S_ISFIFO(st.st_mode) ? "p" : S_ISREG(st.st_mode) ? "f" : "?";
    printf("type=%s major=%u minor=%u mode=%o uid=%u gid=%u\n", t, major(st.st_rdev),
           minor(st.st_rdev), st.st_mode & 07777, st.st_uid, st.st_gid);
    return 0;
}

static int openpath(const char *path, const char *how)
{
    int flags = !strcmp(how, "r") ? O_RDONLY : !strcmp(how, "w") ? O_WRONLY : O_RDWR;
    int fd;

    if (!strcmp(how, "create"))
        flags = O_WRONLY | O_CREAT | O_TRUNC;
    fd = open(path, flags | O_CLOEXEC, 0644);
    if (fd < 0) {
        printf("errno=%d\n", errno);
        return 1;
    }
    printf("ok\n");
    close(fd);
    return 0;
}

/* sched_get_priority_max(2) is a pure query that no shell or libc start-up
 * code calls, so seccomp rules on it affect nothing but this probe. */
static int prio(const char *arg)
{
    long r = syscall(SYS_sched_get_priority_max, strtol(arg, NULL, 0));
    printf("ret=%ld errno=%d\n", r, r < 0 ? errno : 0);
    return 0;
}

int main(int argc, char **argv)
{
    const char *cmd = argc > 1 ? argv[1] : "";
    struct utsname u;

    setvbuf(stdout, NULL, _IOLBF, 0);
    if (!strcmp(cmd, "caps"))
        return caps();
    if (!strcmp(cmd, "ids"))
        return ids();
    if (!strcmp(cmd, "rlimits"))
        return rlimits();
    if (!strcmp(cmd, "sched"))
        return sched();
    if (!strcmp(cmd, "fds"))
        return fds();
    if (!strcmp(cmd, "nnp")) {
        printf("nnp=%d\n", prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
        return 0;
    }
    if (!strcmp(cmd, "personality")) {
        printf("personality=%x\n", personality(0xffffffff));
        return 0;
    }
    if (!strcmp(cmd, "umask")) {
        printf("umask=%04o\n", umask(0));
        return 0;
    }
    if (!strcmp(cmd, "clocks")) {
        struct timespec mono, boot;
        clock_gettime(CLOCK_MONOTONIC, &mono);
        clock_gettime(CLOCK_BOOTTIME, &boot);
        printf("monotonic=%lld boottime=%lld\n", (long long)mono.tv_sec, (long long)boot.tv_sec);
        return 0;
    }
    if (!strcmp(cmd, "uts")) {
        uname(&u);
        printf("hostname=%s domainname=%s machine=%s\n", u.nodename, u.domainname, u.machine);
        return 0;
    }
    if (!strcmp(cmd, "stat") && argc > 2)
        return statpath(argv[2]);
    if (!strcmp(cmd, "open") && argc > 3)
        return openpath(argv[2], argv[3]);
    if (!strcmp(cmd, "prio") && argc > 2)
        return prio(argv[2]);
    if (!strcmp(cmd, "argv")) {
        int i;
        for (i = 0; i < argc; i++)
            printf("[%s]\n", argv[i]);
        return 0;
    }
    fprintf(stderr, "probe: unknown command %s\n", cmd);
    return 2;
}
