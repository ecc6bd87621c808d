#include "thread_priority.h"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace memcoord::metrics_internal {

void DeprioritizeThisThread() {
  // On Linux the nice value belongs to the thread, addressed by its tid.
  const auto tid = static_cast<id_t>(syscall(SYS_gettid));
  const int current = getpriority(PRIO_PROCESS, tid);
  setpriority(PRIO_PROCESS, tid, current + kServingThreadNice);
}

}  // namespace memcoord::metrics_internal
