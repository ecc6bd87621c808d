// Serving threads run at a lower CPU priority than the control loop, so that
// a storm of scrapes slows the scrapes, not the ticks that move balloons.
#ifndef MEMCOORD_SRC_METRICS_THREAD_PRIORITY_H_
#define MEMCOORD_SRC_METRICS_THREAD_PRIORITY_H_

namespace memcoord::metrics_internal {

// Nice value added to each HTTP and front thread (Linux: per thread). The
// front runs a thread per connection, so under a scrape storm dozens are
// runnable at once; at the lowest priority they take together about what the
// loop's one thread does, and the tick keeps its pace (load.metrics_wrk).
inline constexpr int kServingThreadNice = 19;

// Lowers the calling thread's priority by kServingThreadNice. Best effort:
// a failure leaves the thread as it was.
void DeprioritizeThisThread();

}  // namespace memcoord::metrics_internal

#endif  // MEMCOORD_SRC_METRICS_THREAD_PRIORITY_H_
