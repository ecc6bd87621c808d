/*
 * lab-agent: the command agent of the lab guest. Usage: lab-agent PORT
 *
 * Reads one request per line from the virtio-serial PORT (/dev/vportNpM):
 *   RUN <id> <timeout_s> <command, base64>
 * runs the command with `/bin/sh -c` (busybox), stdin /dev/null, stdout and stderr
 * together, and answers, streaming the output as it comes:
 *   @@begin <id>
 *   <output>
 *   @@end <id> <exit status>
 * The exit status is the shell's, or 128+signal; a command still running after
 * timeout_s is killed with its process group (SIGKILL, status 137). Daemons the command
 * starts in their own session (memhog start) are not waited for and not killed.
 * The host matches answers by id, so an answer that was pending when an earlier client
 * gave up is skipped by the next client.
 *
 * While no host client is connected, a read of the port returns end-of-file at once;
 * the agent then sleeps until the port signals a change (SIGIO), with a 1 s fallback,
 * so an idle guest costs almost nothing. The agent runs with oom_score_adj -1000 (from
 * init); commands get 0 back.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define LINE_MAX_BYTES (256 * 1024)

static int g_port = -1;

static void write_all(const char *buf, size_t len) {
  while (len > 0) {
    ssize_t n = write(g_port, buf, len);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return; /* the port went away; nothing sensible to do */
    }
    buf += n;
    len -= (size_t)n;
  }
}

static void write_str(const char *s) { write_all(s, strlen(s)); }

static int b64_value(unsigned char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

/* Decodes NUL-terminated base64 into a new NUL-terminated string, NULL if invalid. */
static char *b64_decode(const char *in) {
  size_t len = strlen(in);
  char *out = malloc(len * 3 / 4 + 4);
  if (!out) return NULL;
  size_t o = 0;
  unsigned acc = 0;
  int bits = 0;
  for (size_t i = 0; i < len; ++i) {
    if (in[i] == '=') break;
    int v = b64_value((unsigned char)in[i]);
    if (v < 0) {
      free(out);
      return NULL;
    }
    acc = (acc << 6) | (unsigned)v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (char)((acc >> bits) & 0xff);
    }
  }
  out[o] = '\0';
  return out;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void run(const char *id, long limit, const char *cmd) {
  char head[256];
  snprintf(head, sizeof head, "@@begin %s\n", id);
  write_str(head);

  int pipefd[2];
  if (pipe2(pipefd, O_CLOEXEC) != 0) {
    snprintf(head, sizeof head, "lab-agent: pipe: %s\n@@end %s 126\n", strerror(errno), id);
    write_str(head);
    return;
  }
  pid_t pid = fork();
  if (pid < 0) {
    snprintf(head, sizeof head, "lab-agent: fork: %s\n@@end %s 126\n", strerror(errno), id);
    write_str(head);
    close(pipefd[0]);
    close(pipefd[1]);
    return;
  }
  if (pid == 0) {
    setpgid(0, 0);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGIO, SIG_DFL);
    int fd = open("/proc/self/oom_score_adj", O_WRONLY);
    if (fd >= 0) {
      ssize_t r = write(fd, "0", 1);
      (void)r;
      close(fd);
    }
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, 0);
    dup2(pipefd[1], 1);
    dup2(pipefd[1], 2);
    execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
    _exit(127);
  }
  close(pipefd[1]);
  setpgid(pid, pid);

  double deadline = now_s() + (double)limit;
  int status = 0, exited = 0, killed = 0, eof = 0;
  char last = '\n', buf[4096];
  /* Until the command exits (not until its pipe closes: a daemon it started may keep
   * the pipe open), forward its output; then take what is left without blocking. */
  while (!exited || !eof) {
    struct pollfd p = {pipefd[0], POLLIN, 0};
    int timeout_ms = exited ? 0 : 100;
    int r = eof ? 0 : poll(&p, 1, timeout_ms);
    if (r > 0) {
      ssize_t n = read(pipefd[0], buf, sizeof buf);
      if (n > 0) {
        write_all(buf, (size_t)n);
        last = buf[n - 1];
        continue;
      }
      if (n == 0) eof = 1;
    } else if (exited) {
      break; /* exited and nothing more to read right now */
    }
    if (!exited) {
      pid_t w = waitpid(pid, &status, WNOHANG);
      if (w == pid) {
        exited = 1;
      } else if (!killed && now_s() >= deadline) {
        kill(-pid, SIGKILL);
        kill(pid, SIGKILL);
        killed = 1;
      }
    }
  }
  close(pipefd[0]);
  int rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  snprintf(head, sizeof head, "%s@@end %s %d\n", last == '\n' ? "" : "\n", id, rc);
  write_str(head);
}

static void on_sigio(int sig) { (void)sig; }

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: lab-agent PORT\n");
    return 2;
  }
  g_port = open(argv[1], O_RDWR | O_CLOEXEC);
  if (g_port < 0) {
    fprintf(stderr, "lab-agent: cannot open %s: %s\n", argv[1], strerror(errno));
    return 1;
  }
  /* SIGIO tells us when the host side connects or sends data. */
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_sigio;
  sigaction(SIGIO, &sa, NULL);
  sigset_t io;
  sigemptyset(&io);
  sigaddset(&io, SIGIO);
  sigprocmask(SIG_BLOCK, &io, NULL);
  fcntl(g_port, F_SETOWN, getpid());
  fcntl(g_port, F_SETFL, fcntl(g_port, F_GETFL) | O_ASYNC);

  char *line = malloc(LINE_MAX_BYTES);
  if (!line) return 1;
  size_t used = 0;
  for (;;) {
    char c;
    ssize_t n = read(g_port, &c, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      /* No host connected: wait for SIGIO (connect or data), at most 1 s. */
      struct timespec ts = {1, 0};
      sigtimedwait(&io, NULL, &ts);
      continue;
    }
    if (c != '\n') {
      if (used < LINE_MAX_BYTES - 1) line[used++] = c;
      continue;
    }
    line[used] = '\0';
    used = 0;
    char *save = NULL;
    char *verb = strtok_r(line, " ", &save);
    char *id = strtok_r(NULL, " ", &save);
    char *limit_s = strtok_r(NULL, " ", &save);
    char *b64 = strtok_r(NULL, " \r", &save);
    if (!verb || strcmp(verb, "RUN") != 0 || !id || !limit_s || !b64 || strlen(id) > 100)
      continue;
    long limit = strtol(limit_s, NULL, 10);
    if (limit <= 0) limit = 60;
    char *cmd = b64_decode(b64);
    if (!cmd) {
      char msg[256];
      snprintf(msg, sizeof msg, "@@begin %s\nlab-agent: command is not valid base64\n@@end %s 2\n",
               id, id);
      write_str(msg);
      continue;
    }
    run(id, limit, cmd);
    free(cmd);
  }
}
