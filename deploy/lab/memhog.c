/*
 * memhog: allocates and touches anonymous memory on command, for the lab guests.
 *
 *   memhog run TARGET_MIB [RATE_MIB_S] [HOLD_S]
 *       Foreground: allocate up to TARGET_MIB at RATE_MIB_S (0 = as fast as possible),
 *       hold for HOLD_S seconds (default: until SIGTERM/SIGINT), free, exit 0.
 *   memhog start NAME TARGET_MIB [RATE_MIB_S]
 *       Background hog NAME: detaches, grows to TARGET_MIB at RATE_MIB_S, then holds.
 *   memhog set NAME TARGET_MIB [RATE_MIB_S]
 *       New target for a running hog: it grows at its rate, or frees down at once.
 *   memhog stop [NAME]
 *       Frees everything and ends hog NAME (every hog without NAME); waits for it.
 *   memhog status [NAME]
 *       One line per hog: name pid state held_mib target_mib rate_mib_s.
 *
 * Memory is taken in 1 MiB anonymous mappings, every page written, so it is really
 * resident; there is no swap in the guest. A hog is an ordinary process: when the guest
 * runs out of memory, the guest kernel's OOM killer ends it and says so on the console,
 * and `status` then reports it as "dead". Every memhog makes itself the OOM killer's
 * first choice (oom_score_adj 1000), so the guest's agent and init are never picked.
 *
 * State of background hogs lives in /run/memhog/NAME.{pid,ctl,status}.
 * Exit codes: 0 ok, 1 runtime error, 2 usage error.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CHUNK_BYTES (1024UL * 1024UL)
#define STEP_NS 100000000L /* 100 ms between allocation steps */
#define STATE_DIR "/run/memhog"

static volatile sig_atomic_t g_stop;
static volatile sig_atomic_t g_reload;

static void on_stop(int sig) {
  (void)sig;
  g_stop = 1;
}
static void on_reload(int sig) {
  (void)sig;
  g_reload = 1;
}

static void die(int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("memhog: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  exit(code);
}

static void usage(void) {
  fputs(
      "usage: memhog run TARGET_MIB [RATE_MIB_S] [HOLD_S]\n"
      "       memhog start NAME TARGET_MIB [RATE_MIB_S]\n"
      "       memhog set NAME TARGET_MIB [RATE_MIB_S]\n"
      "       memhog stop [NAME]\n"
      "       memhog status [NAME]\n"
      "RATE_MIB_S 0 (default) means as fast as possible.\n",
      stderr);
  exit(2);
}

static long parse_num(const char *s, const char *what) {
  char *end = NULL;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno != 0 || end == s || *end != '\0' || v < 0)
    die(2, "%s must be a non-negative integer, got '%s'", what, s);
  return v;
}

static void check_name(const char *name) {
  if (name[0] == '\0' || strlen(name) > 64) die(2, "bad hog name '%s'", name);
  for (const char *p = name; *p; ++p) {
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
          (*p >= '0' && *p <= '9') || *p == '_' || *p == '-' || *p == '.'))
      die(2, "bad hog name '%s' (letters, digits, _ - . only)", name);
  }
}

static void state_path(char *buf, size_t len, const char *name, const char *ext) {
  snprintf(buf, len, "%s/%s.%s", STATE_DIR, name, ext);
}

static int write_file(const char *path, const char *text) {
  char tmp[256];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  FILE *f = fopen(tmp, "w");
  if (!f) return -1;
  fputs(text, f);
  if (fclose(f) != 0) return -1;
  return rename(tmp, path);
}

static int read_file(const char *path, char *buf, size_t len) {
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  size_t n = fread(buf, 1, len - 1, f);
  buf[n] = '\0';
  fclose(f);
  return 0;
}

/* A pid counts as alive unless it is gone or a zombie (an OOM-killed hog whose parent
 * has not reaped it yet). */
static int pid_alive(long pid) {
  char path[64], buf[512];
  snprintf(path, sizeof path, "/proc/%ld/stat", pid);
  if (read_file(path, buf, sizeof buf) != 0) return 0;
  char *rp = strrchr(buf, ')');
  if (!rp || rp[1] == '\0' || rp[2] == '\0') return 0;
  return rp[2] != 'Z' && rp[2] != 'X';
}

static void kmsg(const char *fmt, ...) {
  char line[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  int fd = open("/dev/kmsg", O_WRONLY | O_CLOEXEC);
  if (fd >= 0) {
    ssize_t r = write(fd, line, strlen(line));
    (void)r;
    close(fd);
  }
}

/* ---- the allocator ---------------------------------------------------------------- */

struct hog {
  void **chunks;
  long held;     /* MiB resident */
  long cap;      /* capacity of chunks[] */
  long target;   /* MiB wanted */
  long rate;     /* MiB/s, 0 = unlimited */
  double credit; /* MiB allowed by the rate but not taken yet */
  double last;   /* monotonic seconds when credit was last added; 0 = not growing */
};

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int hog_grow_one(struct hog *h) {
  if (h->held == h->cap) {
    long ncap = h->cap ? h->cap * 2 : 256;
    void **n = realloc(h->chunks, (size_t)ncap * sizeof *n);
    if (!n) return -1;
    h->chunks = n;
    h->cap = ncap;
  }
  void *p = mmap(NULL, CHUNK_BYTES, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return -1;
  long page = sysconf(_SC_PAGESIZE);
  /* Write every page so the memory is resident, not just reserved. */
  for (unsigned long off = 0; off < CHUNK_BYTES; off += (unsigned long)page)
    ((volatile char *)p)[off] = (char)(0x5a ^ (off >> 12));
  h->chunks[h->held++] = p;
  return 0;
}

static void hog_shrink_to(struct hog *h, long target) {
  while (h->held > target) munmap(h->chunks[--h->held], CHUNK_BYTES);
}

/* One step: grow by at most rate/10 MiB (all the way when rate is 0), or free at once. */
static int hog_step(struct hog *h) {
  if (h->held >= h->target) {
    hog_shrink_to(h, h->target);
    h->last = 0;
    h->credit = 0;
    return 0;
  }
  long want = h->target - h->held;
  if (h->rate > 0) {
    /* Credit follows the wall clock, so the rate holds even when touching pages is
     * slow (emulated guests), as long as the machine can keep up at all. */
    double t = now_s();
    h->credit += h->last > 0 ? (double)h->rate * (t - h->last) : (double)h->rate * STEP_NS / 1e9;
    h->last = t;
    if (h->credit > (double)h->rate) h->credit = (double)h->rate; /* at most 1 s of burst */
    long n = (long)h->credit;
    if (n < want) want = n;
    h->credit -= (double)want;
  }
  for (long i = 0; i < want && !g_stop && !g_reload; ++i)
    if (hog_grow_one(h) != 0) return -1;
  return 0;
}

static void sleep_step(void) {
  struct timespec ts = {0, STEP_NS};
  nanosleep(&ts, NULL); /* a signal cuts it short, which is what we want */
}

static void install_handlers(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_stop;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  sa.sa_handler = on_reload;
  sigaction(SIGUSR1, &sa, NULL);
}

/* ---- run (foreground) -------------------------------------------------------------- */

static int cmd_run(int argc, char **argv) {
  if (argc < 1 || argc > 3) usage();
  struct hog h = {0};
  h.target = parse_num(argv[0], "TARGET_MIB");
  h.rate = argc > 1 ? parse_num(argv[1], "RATE_MIB_S") : 0;
  long hold = argc > 2 ? parse_num(argv[2], "HOLD_S") : -1;
  install_handlers();
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (h.rate > 0)
    printf("memhog: allocating %ld MiB at %ld MiB/s\n", h.target, h.rate);
  else
    printf("memhog: allocating %ld MiB as fast as possible\n", h.target);
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  long last_report = 0;
  while (!g_stop && h.held < h.target) {
    if (hog_step(&h) != 0) die(1, "allocation failed at %ld MiB: %s", h.held, strerror(errno));
    if (h.held - last_report >= 100) {
      printf("memhog: held %ld MiB\n", h.held);
      last_report = h.held;
    }
    if (h.rate > 0 && h.held < h.target) sleep_step();
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  printf("memhog: holding %ld MiB (took %.1f s)\n", h.held,
         (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
  for (long waited = 0; !g_stop && (hold < 0 || waited < hold * 10); ++waited) sleep_step();
  hog_shrink_to(&h, 0);
  printf("memhog: freed\n");
  return 0;
}

/* ---- background hogs --------------------------------------------------------------- */

static void write_status(const char *name, const struct hog *h, const char *state) {
  char path[128], text[128];
  state_path(path, sizeof path, name, "status");
  snprintf(text, sizeof text, "%s %ld %ld %ld\n", state, h->held, h->target, h->rate);
  write_file(path, text);
}

static void read_ctl(const char *name, struct hog *h) {
  char path[128], buf[128];
  state_path(path, sizeof path, name, "ctl");
  long t, r;
  if (read_file(path, buf, sizeof buf) == 0 && sscanf(buf, "%ld %ld", &t, &r) == 2) {
    h->target = t;
    h->rate = r;
    h->credit = 0;
    h->last = 0;
  }
}

static void write_ctl(const char *name, long target, long rate) {
  char path[128], text[64];
  state_path(path, sizeof path, name, "ctl");
  snprintf(text, sizeof text, "%ld %ld\n", target, rate);
  if (write_file(path, text) != 0) die(1, "cannot write %s: %s", path, strerror(errno));
}

static long read_pid(const char *name) {
  char path[128], buf[64];
  state_path(path, sizeof path, name, "pid");
  if (read_file(path, buf, sizeof buf) != 0) return -1;
  return strtol(buf, NULL, 10);
}

static void hog_main(const char *name) {
  struct hog h = {0};
  install_handlers();
  read_ctl(name, &h);
  kmsg("memhog[%s]: start, target %ld MiB at %ld MiB/s\n", name, h.target, h.rate);
  write_status(name, &h, "growing");
  const char *last = "";
  while (!g_stop) {
    if (g_reload) {
      g_reload = 0;
      read_ctl(name, &h);
      kmsg("memhog[%s]: new target %ld MiB at %ld MiB/s (holding %ld MiB)\n", name,
           h.target, h.rate, h.held);
    }
    if (hog_step(&h) != 0) {
      /* Out of address space or mappings: hold what we have and say so. */
      write_status(name, &h, "failed");
      kmsg("memhog[%s]: allocation failed at %ld MiB\n", name, h.held);
      while (!g_stop && !g_reload) sleep_step();
      continue;
    }
    const char *state = h.held < h.target ? "growing" : "holding";
    write_status(name, &h, state);
    if (strcmp(state, last) != 0 && strcmp(state, "holding") == 0)
      kmsg("memhog[%s]: holding %ld MiB\n", name, h.held);
    last = state;
    if (h.held == h.target) {
      /* Polling instead of pause(): a signal between the test and pause() is lost. */
      while (!g_stop && !g_reload) sleep_step();
    } else if (h.rate > 0) {
      sleep_step();
    }
  }
  hog_shrink_to(&h, 0);
  write_status(name, &h, "stopped");
  kmsg("memhog[%s]: freed, exiting\n", name);
}

static int cmd_start(int argc, char **argv) {
  if (argc < 2 || argc > 3) usage();
  const char *name = argv[0];
  check_name(name);
  long target = parse_num(argv[1], "TARGET_MIB");
  long rate = argc > 2 ? parse_num(argv[2], "RATE_MIB_S") : 0;
  if (mkdir(STATE_DIR, 0755) != 0 && errno != EEXIST)
    die(1, "cannot create %s: %s", STATE_DIR, strerror(errno));
  long old = read_pid(name);
  if (old > 0 && pid_alive(old)) die(1, "hog '%s' already runs (pid %ld); use set or stop", name, old);
  write_ctl(name, target, rate);
  char path[128];
  state_path(path, sizeof path, name, "status");
  unlink(path);

  pid_t pid = fork();
  if (pid < 0) die(1, "fork: %s", strerror(errno));
  if (pid == 0) {
    setsid();
    int fd = open("/dev/null", O_RDWR);
    if (fd >= 0) {
      dup2(fd, 0);
      dup2(fd, 1);
      dup2(fd, 2);
      if (fd > 2) close(fd);
    }
    char text[32];
    snprintf(text, sizeof text, "%ld\n", (long)getpid());
    state_path(path, sizeof path, name, "pid");
    write_file(path, text);
    hog_main(name);
    _exit(0);
  }
  /* Wait until the hog has written its pid, so that set/stop right after work. */
  for (int i = 0; i < 100 && read_pid(name) != pid; ++i) usleep(10000);
  printf("memhog: started %s pid %ld target %ld MiB rate %ld MiB/s\n", name, (long)pid,
         target, rate);
  return 0;
}

static int cmd_set(int argc, char **argv) {
  if (argc < 2 || argc > 3) usage();
  const char *name = argv[0];
  check_name(name);
  long target = parse_num(argv[1], "TARGET_MIB");
  long pid = read_pid(name);
  if (pid <= 0 || !pid_alive(pid)) die(1, "hog '%s' does not run", name);
  long rate;
  if (argc > 2) {
    rate = parse_num(argv[2], "RATE_MIB_S");
  } else {
    char path[128], buf[128];
    long t;
    state_path(path, sizeof path, name, "ctl");
    if (read_file(path, buf, sizeof buf) != 0 || sscanf(buf, "%ld %ld", &t, &rate) != 2) rate = 0;
  }
  write_ctl(name, target, rate);
  if (kill((pid_t)pid, SIGUSR1) != 0) die(1, "cannot signal hog '%s' (pid %ld): %s", name, pid, strerror(errno));
  printf("memhog: %s target %ld MiB rate %ld MiB/s\n", name, target, rate);
  return 0;
}

static int stop_one(const char *name) {
  long pid = read_pid(name);
  char path[128];
  int rc = 0;
  if (pid > 0 && pid_alive(pid)) {
    kill((pid_t)pid, SIGTERM);
    int i;
    for (i = 0; i < 1000 && pid_alive(pid); ++i) usleep(10000);
    if (pid_alive(pid)) {
      fprintf(stderr, "memhog: %s (pid %ld) did not stop within 10 s\n", name, pid);
      return 1;
    }
    printf("memhog: stopped %s\n", name);
  } else {
    printf("memhog: %s was not running\n", name);
  }
  const char *exts[] = {"pid", "ctl", "status"};
  for (size_t i = 0; i < sizeof exts / sizeof *exts; ++i) {
    state_path(path, sizeof path, name, exts[i]);
    unlink(path);
  }
  return rc;
}

/* Calls fn(name) for every hog with a pid file; returns the OR of the results. */
static int for_each_hog(int (*fn)(const char *)) {
  DIR *d = opendir(STATE_DIR);
  if (!d) return 0;
  int rc = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    size_t n = strlen(e->d_name);
    if (n > 4 && strcmp(e->d_name + n - 4, ".pid") == 0) {
      char name[128];
      snprintf(name, sizeof name, "%.*s", (int)(n - 4), e->d_name);
      rc |= fn(name);
    }
  }
  closedir(d);
  return rc;
}

static int status_one(const char *name) {
  long pid = read_pid(name);
  char path[128], buf[128] = "";
  char state[32] = "unknown";
  long held = 0, target = 0, rate = 0;
  state_path(path, sizeof path, name, "status");
  if (read_file(path, buf, sizeof buf) == 0)
    sscanf(buf, "%31s %ld %ld %ld", state, &held, &target, &rate);
  if (pid <= 0 || !pid_alive(pid)) {
    snprintf(state, sizeof state, "dead");
  }
  printf("%s %ld %s %ld %ld %ld\n", name, pid, state, held, target, rate);
  return 0;
}

/* Best effort: an unprivileged run may not raise it, which only makes the choice less sure. */
static void prefer_me_for_oom(void) {
  int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
  if (fd >= 0) {
    ssize_t r = write(fd, "1000", 4);
    (void)r;
    close(fd);
  }
}

int main(int argc, char **argv) {
  if (argc < 2) usage();
  if (strcmp(argv[1], "run") == 0 || strcmp(argv[1], "start") == 0) prefer_me_for_oom();
  const char *cmd = argv[1];
  if (strcmp(cmd, "run") == 0) return cmd_run(argc - 2, argv + 2);
  if (strcmp(cmd, "start") == 0) return cmd_start(argc - 2, argv + 2);
  if (strcmp(cmd, "set") == 0) return cmd_set(argc - 2, argv + 2);
  if (strcmp(cmd, "stop") == 0) {
    if (argc > 3) usage();
    if (argc == 3) {
      check_name(argv[2]);
      return stop_one(argv[2]);
    }
    return for_each_hog(stop_one);
  }
  if (strcmp(cmd, "status") == 0) {
    if (argc > 3) usage();
    printf("name pid state held_mib target_mib rate_mib_s\n");
    if (argc == 3) {
      check_name(argv[2]);
      return status_one(argv[2]);
    }
    return for_each_hog(status_one);
  }
  if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0) usage();
  fprintf(stderr, "memhog: unknown command '%s'\n", cmd);
  usage();
  return 2;
}
